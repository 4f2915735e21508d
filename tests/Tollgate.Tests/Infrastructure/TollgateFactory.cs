using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Tollgate.Accounts;
using Tollgate.ApiKeys;

namespace Tollgate.Tests.Infrastructure;

/// <summary>
/// Tollgate on a real Kestrel server (port 0) with its own SQLite file in a temporary folder.
/// Every log line at every level is captured so tests can search it.
/// </summary>
public class TollgateFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public TollgateFactory() : this(new Dictionary<string, string?>())
    {
    }

    internal TollgateFactory(Dictionary<string, string?> settings, TimeProvider? time = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("tollgate-test-").FullName;
        DatabasePath = Path.Combine(Directory, "data", "tollgate.db");
        Time = time;
        _settings = new Dictionary<string, string?>
        {
            ["Tollgate:Storage:SqlitePath"] = DatabasePath,
            ["Tollgate:ApiKeys:LastUsedFlushInterval"] = "00:00:00.100",
            ["Tollgate:Demo:WordDelay"] = "00:00:00",
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Trace",
        };
        if (TestStorage.Postgres && !settings.ContainsKey("Tollgate:Storage:Provider"))
        {
            // TOLLGATE_TEST_STORAGE=postgres: the same tests, against a database of their own on the throwaway server.
            _settings["Tollgate:Storage:Provider"] = "postgres";
            _settings["Tollgate:Storage:ConnectionString"] = TempPostgres.CreateDatabaseAsync().GetAwaiter().GetResult();
        }

        foreach (var (key, value) in settings)
        {
            _settings[key] = value;
        }

        UseKestrel(0);
    }

    public string Directory { get; }

    public string DatabasePath { get; }

    /// <summary>The PostgreSQL connection string when this Tollgate runs on PostgreSQL; null on SQLite.</summary>
    public string? PostgresConnectionString =>
        string.Equals(_settings.GetValueOrDefault("Tollgate:Storage:Provider"), "postgres", StringComparison.OrdinalIgnoreCase)
            ? _settings["Tollgate:Storage:ConnectionString"]
            : null;

    /// <summary>
    /// A single number from the database, read as a separate client would, once the usage records handed in so far
    /// have reached it. The SQL must read the same on SQLite and PostgreSQL.
    /// </summary>
    public long Scalar(string sql, params (string Name, object Value)[] parameters) =>
        Row(sql, parameters) is [{ } value and not DBNull, ..] ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : 0L;

    /// <summary>The first row of a query (null when there is none), read as <see cref="Scalar"/> reads.</summary>
    public object?[]? Row(string sql, params (string Name, object Value)[] parameters)
    {
        Service<Tollgate.Credits.BillingWriter>().FlushAsync(CancellationToken.None).GetAwaiter().GetResult();
        if (PostgresConnectionString is { } postgres)
        {
            using var connection = new Npgsql.NpgsqlConnection(postgres);
            connection.Open();
            using var command = new Npgsql.NpgsqlCommand(sql, connection);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name.TrimStart('@'), value);
            }

            using var reader = command.ExecuteReader();
            return Read(reader);
        }

        using var sqlite = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
        sqlite.Open();
        using var read = sqlite.CreateCommand();
        read.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            read.Parameters.AddWithValue(name, value);
        }

        using var rows = read.ExecuteReader();
        return Read(rows);

        static object?[]? Read(System.Data.Common.DbDataReader reader)
        {
            if (!reader.Read())
            {
                return null;
            }

            var values = new object?[reader.FieldCount];
            reader.GetValues(values!);
            return values;
        }
    }

    /// <summary>False to keep the data folder after disposal (the caller deletes it).</summary>
    public bool DeleteFilesOnDispose { get; set; } = true;

    internal TimeProvider? Time { get; }

    /// <summary>Every formatted log line and every structured value logged so far.</summary>
    public ConcurrentQueue<string> Logs { get; } = new();

    /// <summary>Counts storage lookups by secret hash (the store itself is the real SQLite one).</summary>
    internal CountingApiKeyStore? CountingStore { get; private set; }

    internal T Service<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>The real server's address, for clients that must not go through the factory's handlers.</summary>
    public Uri Address
    {
        get
        {
            StartServer();
            var addresses = Service<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
                .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!;
            return new Uri(addresses.Addresses.First());
        }
    }

    /// <summary>A new account with a unique e-mail address.</summary>
    internal async Task<Account> CreateAccountAsync(string? email = null)
    {
        StartServer();
        var created = await Service<AccountService>().CreateAsync(
            email ?? $"user-{Guid.NewGuid():N}@example.com", null, AccountRole.Member, null, CancellationToken.None);
        return created.Account;
    }

    /// <summary>A key made as the dashboard would (no caller key): returns its secret.</summary>
    internal async Task<(ApiKey Key, string Secret)> CreateKeyAsync(string accountId, string json = """{"name":"test"}""")
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        var changes = ApiKeyChanges.Parse(document.RootElement, DateTimeOffset.UtcNow);
        var created = await Service<ApiKeyService>().CreateAsync(accountId, null, changes, CancellationToken.None);
        return (created.Key, created.Secret);
    }

    /// <summary>An OpenAI SDK chat client pointed at this Tollgate, as a user would configure it.</summary>
    public OpenAI.Chat.ChatClient OpenAiChat(string secret, string model) =>
        new(model, new System.ClientModel.ApiKeyCredential(secret), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(Address, "/api/v1") });

    /// <summary>An OpenAI SDK embeddings client pointed at this Tollgate.</summary>
    public OpenAI.Embeddings.EmbeddingClient OpenAiEmbeddings(string secret, string model) =>
        new(model, new System.ClientModel.ApiKeyCredential(secret), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(Address, "/api/v1") });

    /// <summary>An HTTP client for the real server, sending <paramref name="secret"/> as the Bearer key.</summary>
    public HttpClient Client(string? secret = null)
    {
        StartServer();
        var client = CreateClient();
        if (secret is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        }

        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(_settings));

        // Also as host settings, which Program.cs already sees while it registers services (OpenID Connect is added only when configured).
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureLogging(logging =>
        {
            // Levels come from the Logging:LogLevel settings above, as they would in production.
            logging.AddProvider(new CaptureLoggerProvider(Logs));
        });
        builder.ConfigureServices(services =>
        {
            if (Time is not null)
            {
                services.RemoveAll<TimeProvider>();
                services.AddSingleton(Time);
            }

            // The first-run welcome is kept (tests read the link from FirstRunLink.Printed), not printed.
            services.RemoveAll<Tollgate.Dashboard.FirstRunLink>();
            services.AddSingleton(sp => new Tollgate.Dashboard.FirstRunLink(
                sp.GetRequiredService<InviteService>(), sp.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>(),
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Tollgate.Dashboard.DashboardOptions>>()) { Output = TextWriter.Null });

            // Whichever store the configuration chose, wrapped to count lookups.
            var store = services.Last(d => d.ServiceType == typeof(IApiKeyStore)).ImplementationType!;
            services.RemoveAll<IApiKeyStore>();
            services.AddSingleton(store);
            services.AddSingleton<IApiKeyStore>(sp => CountingStore = new CountingApiKeyStore((IApiKeyStore)sp.GetRequiredService(store)));
        });
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (!DeleteFilesOnDispose)
        {
            return;
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
