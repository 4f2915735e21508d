using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Tollgate.FakeUpstream.Serving;

namespace Tollgate.FakeUpstream;

/// <summary>
/// A fake LLM provider on a real Kestrel server on 127.0.0.1: OpenAI Chat Completions at
/// <c>POST /v1/chat/completions</c>, Anthropic Messages at <c>POST /v1/messages</c>, plus
/// <c>GET /v1/models</c> and <c>GET /healthz</c>. Behaviour per model comes from <see cref="Options"/>.
/// </summary>
internal sealed class FakeUpstreamServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RequestLog _log;

    private FakeUpstreamServer(WebApplication app, RequestLog log, FakeUpstreamOptions options, Uri baseAddress)
    {
        _app = app;
        _log = log;
        Options = options;
        BaseAddress = baseAddress;
    }

    /// <summary>The server root, e.g. <c>http://127.0.0.1:41234/</c>; the OpenAI base URL is <c>BaseAddress + "v1"</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The options the server reads on every request; change scenarios here at any time.</summary>
    public FakeUpstreamOptions Options { get; }

    /// <summary>A snapshot of every request received so far, in arrival order.</summary>
    public IReadOnlyList<ReceivedRequest> Requests => _log.Requests;

    /// <summary>Requests whose client went away before the server had finished answering.</summary>
    public int CancelledRequests => _log.CancelledRequests;

    /// <summary>Starts a server on 127.0.0.1; port 0 picks a free port.</summary>
    public static Task<FakeUpstreamServer> StartAsync(FakeUpstreamOptions options, int port = 0) =>
        StartAsync(options, port, consoleWarnings: false);

    /// <summary>Starts a server; <paramref name="consoleWarnings"/> prints warnings and errors (the command line does).</summary>
    internal static async Task<FakeUpstreamServer> StartAsync(FakeUpstreamOptions options, int port, bool consoleWarnings)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);

        // The empty builder reads no appsettings.json and no environment: the fake behaves the
        // same wherever it runs, including in a test folder that holds Tollgate's own settings.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(FakeUpstreamServer).Assembly.GetName().Name,
        });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port);
        });
        builder.Services.AddRoutingCore();

        // Stopping aborts answers in progress (a hanging request must not hold a test for 30 s).
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.Zero);
        if (consoleWarnings)
        {
            // The caller reports a failed start (port in use) itself, without the host's stack trace.
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning)
                .AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        }

        var app = builder.Build();
        var log = new RequestLog();
        var chat = new ChatHandler(options, log);

        app.MapPost("/v1/chat/completions", chat.OpenAiAsync);
        app.MapPost("/v1/messages", chat.AnthropicAsync);
        app.MapPost("/v1/embeddings", chat.EmbeddingsAsync);
        app.MapGet("/v1/models", context => ModelList.WriteAsync(context, chat, options));
        app.MapGet("/healthz", context =>
        {
            chat.Record(context);
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("""{"status":"ok"}""");
        });

        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new FakeUpstreamServer(app, log, options, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>Completes when <paramref name="count"/> requests have been cancelled by their client.</summary>
    /// <exception cref="TimeoutException">Fewer were cancelled within <paramref name="timeout"/>.</exception>
    public Task WaitForCancelledAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _log.WaitForCancelledAsync(count, timeout, cancellationToken);

    /// <summary>Forgets the requests received so far.</summary>
    public void ClearRequests() => _log.Clear();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
