using Microsoft.Extensions.Options;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Cluster;
using Tollgate.Cli;
using Tollgate.Configuration;
using Tollgate.Credits;
using Tollgate.Dashboard;
using Tollgate.Gateway;
using Tollgate.Gateway.Messages;
using Tollgate.Health;
using Tollgate.Http;
using Tollgate.Metrics;
using Tollgate.Models;
using Tollgate.RateLimiting;
using Tollgate.Storage;
using Tollgate.Usage;

// Commands other than `serve` (accounts, keys...) run and exit without starting the server.
if (TollgateCli.IsCommand(args))
{
    return await TollgateCli.RunAsync(args);
}

try
{
    // Settings are read once at start (and validated then): no file watcher on the content root, which
    // would otherwise wake on every write to the database under ./data.
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions
    {
        Args = [.. TollgateCli.ServerArguments(args), "--hostBuilder:reloadConfigOnChange=false"],

        // The dashboard's static files travel with the build, so the server finds them from any working folder.
        WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
    });

    // A start that fails is explained once, plainly, below; the host's own "Hosting failed to start" error would repeat it with a stack trace.
    builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

    // Errors in the envelope of SPEC section 2, request ids, body-size limits, the request log
    builder.AddErrorHandling();

    // Storage: SQLite under ./data, migrated at start
    builder.AddStorage();
    builder.AddCluster();

    // Accounts and API keys, with Bearer authentication and per-scope authorization
    builder.AddAccounts();
    builder.AddApiKeys();
    builder.AddApiKeyAuthentication();

    // The web dashboard: cookie sessions (never for /api/v1), Razor Pages under Dashboard/, OpenID Connect when configured
    builder.AddDashboard();

    // Credits: reservations, the ledger, group-committed usage records
    builder.AddCredits();

    // Per-key rate limits on the inference endpoints (429 before any credit is reserved)
    builder.AddRateLimits();

    // The usage log's read side: /key, /credits, /generation, /usage
    builder.AddUsage();

    // The gateway: model catalogue, providers (openai, anthropic, demo), routing and retries
    builder.AddGateway();

    // The OpenAPI document at /openapi/v1.json and the interactive reference at /docs
    builder.AddApiDocumentation();

    // Prometheus metrics at /metrics: chat requests by status, upstream latency, time to first token, tokens, cost, added latency
    builder.AddMetrics();

    var app = builder.Build();

    app.UseErrorHandling();
    app.UseDashboardHeaders();
    app.UseAuthentication();
    app.UseAuthorization();

    // Endpoints
    app.MapHealth();
    app.MapApiKeysApi();
    app.MapModelsApi();
    app.MapChatCompletionsApi();
    app.MapMessagesApi();
    app.MapEmbeddingsApi();
    app.MapUsageApi();
    app.MapCreditsApi();
    app.MapMetrics();
    app.MapApiDocumentation();
    app.MapDashboard();

    app.Lifetime.ApplicationStarted.Register(() => FirstRun.PrintWelcome(app));

    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException exception)
{
    // Bad configuration: say which settings, without a stack trace.
    await Console.Error.WriteLineAsync("Tollgate cannot start; fix these settings:\n  " + string.Join("\n  ", exception.Failures));
    return 2;
}
catch (Exception exception) when (SettingsValidation.WrongType(exception) is { } wrongType)
{
    // A setting of the wrong type (CacheTtl=banana): reported like a wrong range.
    await Console.Error.WriteLineAsync("Tollgate cannot start; fix these settings:\n  " + wrongType);
    return 2;
}
catch (IOException exception)
{
    // The port is taken, the database or its journal is held by another server, the disk refuses: say so plainly.
    await Console.Error.WriteLineAsync($"Tollgate cannot start: {exception.Message}");
    return 1;
}

/// <summary>The entry point, visible to the functional tests' <c>WebApplicationFactory</c>.</summary>
public partial class Program;
