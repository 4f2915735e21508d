using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.Credits;
using Tollgate.Storage;
using Tollgate.Tests.Infrastructure;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>
/// A migrated database of its own with the real write path (<see cref="IBillingStore.WriteUsageAsync"/>: records,
/// daily and 15-minute rollups, charges in one transaction) and the real read side (<see cref="UsageService"/> over
/// <see cref="IUsageStore"/>), for tests of the read side without a server: a SQLite file, or a database on the
/// throwaway PostgreSQL server when <see cref="TestStorage.Postgres"/>.
/// </summary>
internal sealed class UsageDatabase : IDisposable
{
    public const string AccountId = "acc_usage";

    private readonly TempBillingDatabase? _sqlite;
    private readonly PostgresDatabase? _postgres;
    private int _sequence;

    private UsageDatabase(TempBillingDatabase temp)
    {
        _sqlite = temp;
        Billing = new SqliteBillingStore(temp.Database, Options.Create(new CreditsOptions()));
        Store = new SqliteUsageStore(temp.Database);
        Service = new UsageService(Store);
    }

    private UsageDatabase(PostgresDatabase database)
    {
        _postgres = database;
        Billing = new PostgresBillingStore(database);
        Store = new PostgresUsageStore(database);
        Service = new UsageService(Store);
    }

    /// <summary>The SQLite file, for tests of SQLite itself; there is none on PostgreSQL.</summary>
    public SqliteDatabase Database => _sqlite?.Database ?? throw new InvalidOperationException("This usage database is on PostgreSQL: it has no SQLite file");

    public IBillingStore Billing { get; }

    public IUsageStore Store { get; }

    public UsageService Service { get; }

    public static async Task<UsageDatabase> CreateAsync()
    {
        if (!TestStorage.Postgres)
        {
            return new UsageDatabase(await TempBillingDatabase.CreateAsync(AccountId));
        }

        // As the server prepares it: the migrations, then the usage log's monthly partitions around now.
        var database = new PostgresDatabase(await TempPostgres.CreateDatabaseAsync(), maxPoolSize: 10);
        await using (var connection = await database.OpenAsync(CancellationToken.None))
        {
            await new MigrationRunner("postgres", NullLogger.Instance).ApplyAsync(connection, TimeProvider.System, CancellationToken.None);
            await UsagePartitions.EnsureAsync(connection, TimeProvider.System.GetUtcNow(), NullLogger.Instance, CancellationToken.None);
        }

        var created = new UsageDatabase(database);
        await created.ExecuteAsync(
            "INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at) VALUES (@id, @email, @email, 'test', 'owner', 'x', 0)",
            ("@id", AccountId), ("@email", AccountId + "@example.com"));
        return created;
    }

    /// <summary>A key row (names show in lists and legends); <paramref name="accountId"/> must exist, see <see cref="AddAccountAsync"/>.</summary>
    public async Task<string> AddKeyAsync(string name, string accountId = AccountId)
    {
        var id = $"key_{accountId}_{Interlocked.Increment(ref _sequence)}";
        await ExecuteAsync(
            "INSERT INTO api_keys (id, account_id, name, label, secret_hash, scopes, created_at) VALUES (@id, @account, @name, 'sk-tg-v1-x...y', @hash, 'usage:read', 0)",
            ("@id", id), ("@account", accountId), ("@name", name), ("@hash", Guid.NewGuid().ToString("N")));
        return id;
    }

    public Task AddAccountAsync(string accountId) => ExecuteAsync(
        "INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at) VALUES (@id, @email, @email, 'other', 'member', 'x', 0)",
        ("@id", accountId), ("@email", accountId + "@example.com"));

    /// <summary>A record of a priced call at <paramref name="at"/>, 1 µUSD by default; change the rest with <c>with</c>.</summary>
    public UsageRecord Call(string keyId, DateTimeOffset at, string model = "demo/echo", long costNanos = 1_000, string accountId = AccountId) => new()
    {
        GenerationId = $"gen-{Interlocked.Increment(ref _sequence):D6}-{Guid.NewGuid():N}",
        AccountId = accountId,
        KeyId = keyId,
        Model = model,
        Provider = "demo",
        PromptTokens = 10,
        CompletionTokens = 20,
        CostNanos = costNanos,
        Status = 200,
        LatencyMs = 100,
        CreatedAt = at,
    };

    public Task WriteAsync(params UsageRecord[] records) => Billing.WriteUsageAsync(records, CancellationToken.None);

    /// <summary>A statement that must read the same on SQLite and PostgreSQL.</summary>
    public async Task ExecuteAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        if (_postgres is not null)
        {
            await using var connection = await _postgres.OpenAsync(CancellationToken.None);
            await using var command = connection.Command(sql, parameters);
            await command.ExecuteNonQueryAsync(CancellationToken.None);
            return;
        }

        await using var sqlite = await Database.OpenAsync(CancellationToken.None);
        using var write = sqlite.Command(sql, parameters);
        await write.ExecuteNonQueryAsync(CancellationToken.None);
    }

    /// <summary>A single number (SUM over bigint is numeric on PostgreSQL: read as a long either way).</summary>
    public async Task<long> ScalarAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        object? value;
        if (_postgres is not null)
        {
            await using var connection = await _postgres.OpenAsync(CancellationToken.None);
            await using var command = connection.Command(sql, parameters);
            value = await command.ExecuteScalarAsync(CancellationToken.None);
        }
        else
        {
            await using var sqlite = await Database.OpenAsync(CancellationToken.None);
            using var read = sqlite.Command(sql, parameters);
            value = await read.ExecuteScalarAsync(CancellationToken.None);
        }

        return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        _sqlite?.Dispose();
        _postgres?.DataSource.Dispose();
    }

    /// <summary>
    /// A database file as a Tollgate of schema <paramref name="version"/> left it (the migrations up to it applied, as the
    /// runner would), so that a test can fill it and then see the later migrations upgrade it.
    /// </summary>
    public static async Task<SqliteDatabase> CreateAtVersionAsync(string path, int version)
    {
        var database = new SqliteDatabase(path);
        await database.InitializeAsync(CancellationToken.None);
        await using var connection = await database.OpenAsync(CancellationToken.None);
        await using var transaction = (Microsoft.Data.Sqlite.SqliteTransaction)await connection.BeginTransactionAsync();
        using (var table = connection.Command(
            "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"))
        {
            table.Transaction = transaction;
            await table.ExecuteNonQueryAsync();
        }

        foreach (var script in new MigrationRunner("sqlite", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).LoadScripts()
            .Where(s => s.Version <= version))
        {
            using var apply = connection.Command(script.Sql);
            apply.Transaction = transaction;
            await apply.ExecuteNonQueryAsync();
            using var record = connection.Command("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, 'test')",
                ("@v", script.Version), ("@n", script.Name));
            record.Transaction = transaction;
            await record.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return database;
    }
}
