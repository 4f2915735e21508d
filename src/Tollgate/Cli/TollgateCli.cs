using System.CommandLine;
using System.Globalization;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Storage;

namespace Tollgate.Cli;

/// <summary>
/// The command line of the same executable: <c>serve</c> (the default), <c>accounts create|list</c>,
/// <c>keys create|list</c>. Commands work on the configured database directly, with the same
/// configuration as the server (appsettings.json, <c>Tollgate__...</c> variables).
/// </summary>
internal static class TollgateCli
{
    private static readonly string[] HelpWords = ["-h", "-?", "--help", "--version"];

    /// <summary>True for a command to run and exit; false to start the server.</summary>
    public static bool IsCommand(string[] args) =>
        args.Length > 0 && (HelpWords.Contains(args[0]) || !args[0].StartsWith('-') && args[0] != "serve");

    /// <summary>The arguments for the web host: everything but a leading <c>serve</c>.</summary>
    public static string[] ServerArguments(string[] args) => args is ["serve", .. var rest] ? rest : args;

    public static Task<int> RunAsync(string[] args) => BuildRoot().Parse(args).InvokeAsync();

    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("Tollgate: a self-hosted, OpenAI-compatible LLM API gateway.");
        var serve = new Command("serve", "Run the server (the default). Host options such as --urls http://127.0.0.1:8080 follow.");
        serve.TreatUnmatchedTokensAsErrors = false;
        root.Subcommands.Add(serve);
        root.Subcommands.Add(AccountsCommand());
        root.Subcommands.Add(KeysCommand());
        root.Subcommands.Add(CreditsCommand());
        return root;
    }

    private static Command AccountsCommand()
    {
        var email = new Option<string>("--email") { Description = "The account's e-mail address (its sign-in name)", Required = true };
        var name = new Option<string?>("--name") { Description = "Display name (default: the part of the e-mail before @)" };
        var role = new Option<string?>("--role") { Description = "owner, admin or member (default: owner for the first account, else member)" };
        var password = new Option<string?>("--password") { Description = $"At least {AccountService.MinPasswordLength} characters; omit it to get a generated one-time password" };
        var create = new Command("create", "Create an account") { email, name, role, password };
        create.SetAction((parse, cancellationToken) => WithServicesAsync(async (services, output) =>
        {
            var store = services.GetRequiredService<IAccountStore>();
            AccountRole accountRole;
            if (parse.GetValue(role) is { } roleName)
            {
                if (!AccountRoles.TryParse(roleName, out accountRole))
                {
                    return Fail($"--role must be owner, admin or member, not '{roleName}'");
                }
            }
            else
            {
                accountRole = await store.CountAsync(cancellationToken) == 0 ? AccountRole.Owner : AccountRole.Member;
            }

            AccountService.Created created;
            try
            {
                created = await services.GetRequiredService<AccountService>().CreateAsync(
                    parse.GetValue(email)!, parse.GetValue(name), accountRole, parse.GetValue(password), cancellationToken);
            }
            catch (ArgumentException exception)
            {
                return Fail(exception.Message.Split(" (Parameter", 2)[0]);
            }

            var account = created.Account;
            output.WriteLine($"Created {AccountRoles.ToName(account.Role)} account {account.Id} for {account.Email}.");
            if (created.GeneratedPassword is { } generated)
            {
                output.WriteLine($"One-time password (shown only now): {generated}");
            }

            output.WriteLine($"Next: dotnet run --project src/Tollgate -- keys create --email {account.Email} --name \"first key\"");
            return 0;
        }, cancellationToken));

        var list = new Command("list", "List accounts");
        list.SetAction((_, cancellationToken) => WithServicesAsync(async (services, output) =>
        {
            var accounts = await services.GetRequiredService<IAccountStore>().ListAsync(cancellationToken);
            output.WriteLine($"{"ID",-25} {"ROLE",-7} {"CREATED",-20} EMAIL (NAME)");
            foreach (var a in accounts)
            {
                output.WriteLine($"{a.Id,-25} {AccountRoles.ToName(a.Role),-7} {a.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + "Z",-20} {a.Email} ({a.DisplayName})");
            }

            output.WriteLine($"{accounts.Count} account(s)");
            return 0;
        }, cancellationToken));

        return new Command("accounts", "Manage accounts") { create, list };
    }

    private static Command KeysCommand()
    {
        var email = new Option<string>("--email") { Description = "The e-mail address of the account that owns the key", Required = true };
        var name = new Option<string>("--name") { Description = "A name to recognise the key by", Required = true };
        var scopes = new Option<string[]>("--scopes")
        {
            Description = $"Scopes, comma- or space-separated, of {ApiKeyScopeNames.AllNames} (default: {ApiKeyScopeNames.DefaultNames}; " +
                "admin, to grant credits through the API, only for owner and admin accounts)",
            AllowMultipleArgumentsPerToken = true,
        };
        var models = new Option<string[]>("--models")
        {
            Description = "Allowed model ids or patterns such as anthropic/* (default: every model)",
            AllowMultipleArgumentsPerToken = true,
        };
        var limit = new Option<decimal?>("--limit") { Description = "The key's own credit limit in USD" };
        var limitReset = new Option<string?>("--limit-reset") { Description = "daily, weekly or monthly" };
        var expires = new Option<DateTimeOffset?>("--expires-at") { Description = "When the key stops working (ISO 8601, UTC)" };
        var create = new Command("create", "Create an API key and print its secret once") { email, name, scopes, models, limit, limitReset, expires };
        create.SetAction((parse, cancellationToken) => WithServicesAsync(async (services, output) =>
        {
            var account = await services.GetRequiredService<IAccountStore>().FindByEmailAsync(parse.GetValue(email)!, cancellationToken);
            if (account is null)
            {
                return Fail($"No account has the e-mail address '{parse.GetValue(email)}'. Create it with: accounts create --email ...");
            }

            ApiKeyService.Created created;
            try
            {
                var changes = ToChanges(parse.GetValue(name)!, parse.GetValue(scopes), parse.GetValue(models),
                    parse.GetValue(limit), parse.GetValue(limitReset), parse.GetValue(expires), services.GetRequiredService<TimeProvider>());
                created = await services.GetRequiredService<ApiKeyService>().CreateAsync(account.Id, caller: null, changes, cancellationToken);
            }
            catch (ApiException exception)
            {
                return Fail(exception.Message);
            }

            var key = created.Key;
            output.WriteLine($"Created key {key.Id} ({key.Label}) for {account.Email}; scopes: {string.Join(' ', ApiKeyScopeNames.ToNames(key.Scopes))}.");
            output.WriteLine("The secret below is shown only now. Store it somewhere safe:");
            output.WriteLine(created.Secret);
            return 0;
        }, cancellationToken));

        var listEmail = new Option<string>("--email") { Description = "The e-mail address of the account", Required = true };
        var list = new Command("list", "List an account's API keys (never their secrets)") { listEmail };
        list.SetAction((parse, cancellationToken) => WithServicesAsync(async (services, output) =>
        {
            var account = await services.GetRequiredService<IAccountStore>().FindByEmailAsync(parse.GetValue(listEmail)!, cancellationToken);
            if (account is null)
            {
                return Fail($"No account has the e-mail address '{parse.GetValue(listEmail)}'");
            }

            var keys = await services.GetRequiredService<ApiKeyService>().ListAsync(account.Id, cancellationToken);
            output.WriteLine($"{"ID",-25} {"LABEL",-22} {"STATE",-8} NAME");
            foreach (var k in keys)
            {
                var state = k.Disabled ? "disabled" : k.ExpiresAt is { } e && e <= DateTimeOffset.UtcNow ? "expired" : "active";
                output.WriteLine($"{k.Id,-25} {k.Label,-22} {state,-8} {k.Name}");
            }

            output.WriteLine($"{keys.Count} key(s)");
            return 0;
        }, cancellationToken));

        return new Command("keys", "Manage API keys") { create, list };
    }

    private static Command CreditsCommand()
    {
        var email = new Option<string>("--email") { Description = "The e-mail address of the account", Required = true };
        var amount = new Option<decimal>("--amount") { Description = "USD to add (negative: an adjustment that takes credits away)", Required = true };
        var note = new Option<string?>("--note") { Description = "Why, for the ledger" };
        var grant = new Command("grant", "Grant credits to an account (an entry in its ledger)") { email, amount, note };
        grant.SetAction((parse, cancellationToken) => WithServicesAsync(async (services, output) =>
        {
            var account = await services.GetRequiredService<IAccountStore>().FindByEmailAsync(parse.GetValue(email)!, cancellationToken);
            if (account is null)
            {
                return Fail($"No account has the e-mail address '{parse.GetValue(email)}'");
            }

            var usd = parse.GetValue(amount);
            if (usd == 0 || Math.Abs(usd) > 1_000_000)
            {
                return Fail("--amount must be non-zero and at most 1000000 USD either way");
            }

            var credits = await services.GetRequiredService<IBillingStore>().AddCreditsAsync(account.Id, usd > 0 ? "grant" : "adjustment",
                usd > 0 ? Money.ToNanos(usd) : -Money.ToNanos(-usd), "cli", null, parse.GetValue(note),
                services.GetRequiredService<TimeProvider>().GetUtcNow(), cancellationToken);
            output.WriteLine($"{(usd > 0 ? "Granted" : "Adjusted by")} {Money.Format(Money.ToNanos(Math.Abs(usd)))} for {account.Email}; balance now {Money.Format(credits.BalanceNanos)}.");
            return 0;
        }, cancellationToken));

        var showEmail = new Option<string>("--email") { Description = "The e-mail address of the account", Required = true };
        var show = new Command("show", "Show an account's balance") { showEmail };
        show.SetAction((parse, cancellationToken) => WithServicesAsync(async (services, output) =>
        {
            var account = await services.GetRequiredService<IAccountStore>().FindByEmailAsync(parse.GetValue(showEmail)!, cancellationToken);
            if (account is null)
            {
                return Fail($"No account has the e-mail address '{parse.GetValue(showEmail)}'");
            }

            var credits = await services.GetRequiredService<IBillingStore>().GetCreditsAsync(account.Id, cancellationToken);
            output.WriteLine($"{account.Email}: balance {Money.Format(credits.BalanceNanos)} (credits {Money.Format(credits.CreditsNanos)}, usage {Money.Format(credits.UsageNanos)})");
            return 0;
        }, cancellationToken));

        return new Command("credits", "Manage credits") { grant, show };
    }

    private static ApiKeyChanges ToChanges(string name, string[]? scopes, string[]? models, decimal? limit, string? limitReset,
        DateTimeOffset? expiresAt, TimeProvider time)
    {
        // Reuse the HTTP API's validation so the CLI and the API accept exactly the same keys.
        var body = new Dictionary<string, object?> { ["name"] = name };
        if (Split(scopes) is { } scopeList)
        {
            body["scopes"] = scopeList;
        }

        if (Split(models) is { } modelList)
        {
            body["models"] = modelList;
        }

        if (limit is not null)
        {
            body["limit"] = limit;
        }

        if (limitReset is not null)
        {
            body["limit_reset"] = limitReset;
        }

        if (expiresAt is not null)
        {
            body["expires_at"] = expiresAt.Value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
        }

        using var document = System.Text.Json.JsonDocument.Parse(System.Text.Json.JsonSerializer.Serialize(body, CliJsonContext.Default.DictionaryStringObject));
        return ApiKeyChanges.Parse(document.RootElement, time.GetUtcNow());
    }

    private static string[]? Split(string[]? values) =>
        values is null or [] ? null : values.SelectMany(v => v.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 1;
    }

    /// <summary>Builds the storage services with the server's configuration, migrates, runs <paramref name="action"/>.</summary>
    private static async Task<int> WithServicesAsync(Func<IServiceProvider, TextWriter, Task<int>> action, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        // Only warnings, and on standard error, so standard output stays what the command prints.
        builder.Logging.AddFilter((string?)null, LogLevel.Warning);
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.AddStorage();
        builder.AddAccounts();
        builder.AddApiKeys();
        builder.AddCredits();
        using var host = builder.Build();
        try
        {
            await host.Services.GetRequiredService<StorageInitializer>().StartAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or IOException or UnauthorizedAccessException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            return Fail($"cannot open storage: {exception.Message}");
        }

        return await action(host.Services, Console.Out);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(decimal))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class CliJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
