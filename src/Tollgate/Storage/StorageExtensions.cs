using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Configuration;

namespace Tollgate.Storage;

internal static class StorageExtensions
{
    /// <summary>
    /// Registers the storage behind the feature interfaces (SQLite by default) and applies
    /// the schema migrations when the host starts.
    /// </summary>
    public static IHostApplicationBuilder AddStorage(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>()
            .BindConfiguration(StorageOptions.Section)
            .ValidateSettings(o => o.Validate() is { } problem ? [problem] : []);

        builder.Services.TryAddSingleton(TimeProvider.System);
        if (StorageOptions.UsesPostgres(builder.Configuration))
        {
            AddPostgres(builder.Services);
        }
        else
        {
            AddSqlite(builder.Services);
        }

        builder.Services.AddHostedService(sp => sp.GetRequiredService<StorageInitializer>());
        return builder;
    }

    private static void AddSqlite(IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            var root = sp.GetRequiredService<IHostEnvironment>().ContentRootPath;
            return new SqliteDatabase(Path.Combine(root, options.SqlitePath));
        });
        services.AddSingleton<IAccountStore, SqliteAccountStore>();
        services.AddSingleton<IApiKeyStore, SqliteApiKeyStore>();
        services.AddSingleton<IInviteStore, SqliteInviteStore>();
        services.AddSingleton<ISignInFailureStore, SqliteSignInFailureStore>();
        services.AddSingleton<Audit.IAuditStore, SqliteAuditStore>();
        services.AddSingleton<Credits.IBillingStore, SqliteBillingStore>();
        services.AddSingleton<Usage.IUsageStore, SqliteUsageStore>();
        services.AddSingleton<StorageInitializer, SqliteStorageInitializer>();
        services.AddHostedService<WalCheckpointer>();
    }

    private static void AddPostgres(IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            return new PostgresDatabase(options.ConnectionString!, options.MaxPoolSize);
        });
        services.AddSingleton<IAccountStore, PostgresAccountStore>();
        services.AddSingleton<IApiKeyStore, PostgresApiKeyStore>();
        services.AddSingleton<IInviteStore, PostgresInviteStore>();
        services.AddSingleton<ISignInFailureStore, PostgresSignInFailureStore>();
        services.AddSingleton<Audit.IAuditStore, PostgresAuditStore>();
        services.AddSingleton<Credits.IBillingStore, PostgresBillingStore>();
        services.AddSingleton<Usage.IUsageStore, PostgresUsageStore>();
        services.AddSingleton<StorageInitializer, PostgresStorageInitializer>();
    }
}

/// <summary>Prepares storage before the server takes requests, and says whether it answers (for <c>/readyz</c>).</summary>
internal abstract class StorageInitializer : IHostedService
{
    public abstract Task StartAsync(CancellationToken cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>True when storage answers a trivial query.</summary>
    public abstract Task<bool> IsReachableAsync(CancellationToken cancellationToken);
}

/// <summary>Creates the database file and applies migrations before the server takes requests.</summary>
internal sealed partial class SqliteStorageInitializer(SqliteDatabase database, TimeProvider time, ILogger<SqliteStorageInitializer> logger)
    : StorageInitializer
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await database.InitializeAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        var applied = await new MigrationRunner("sqlite", logger).ApplyAsync(connection, time, cancellationToken);
        Log.Ready(logger, database.FilePath, applied);
    }

    public override async Task<bool> IsReachableAsync(CancellationToken cancellationToken)
    {
        // Pooled connections keep working on a database file that was deleted or replaced: look at the file too.
        if (!File.Exists(database.FilePath))
        {
            Log.Unreachable(logger, new FileNotFoundException("The SQLite database file is missing", database.FilePath));
            return false;
        }

        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            using var command = connection.Command("SELECT COUNT(*) FROM schema_migrations");
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (Microsoft.Data.Sqlite.SqliteException exception)
        {
            Log.Unreachable(logger, exception);
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Information, "SQLite storage ready at {Path} ({Applied} migrations applied now)")]
        public static partial void Ready(ILogger logger, string path, int applied);

        [LoggerMessage(102, LogLevel.Warning, "Storage is not reachable")]
        public static partial void Unreachable(ILogger logger, Exception exception);
    }
}

/// <summary>
/// Applies the PostgreSQL migrations under an advisory lock (instances starting together take turns) and adds
/// the usage log's monthly partitions ahead of time.
/// </summary>
internal sealed partial class PostgresStorageInitializer(PostgresDatabase database, TimeProvider time, ILogger<PostgresStorageInitializer> logger)
    : StorageInitializer
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var applied = await new MigrationRunner("postgres", logger).ApplyAsync(connection, time, cancellationToken);
        await using (var locked = connection.Command($"SELECT pg_advisory_lock({MigrationRunner.PostgresMigrationLock})"))
        {
            await locked.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            await UsagePartitions.EnsureAsync(connection, time.GetUtcNow(), logger, cancellationToken);
        }
        finally
        {
            await using var unlock = connection.Command($"SELECT pg_advisory_unlock({MigrationRunner.PostgresMigrationLock})");
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }

        Log.Ready(logger, database.Description, applied);
    }

    public override async Task<bool> IsReachableAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var command = connection.Command("SELECT COUNT(*) FROM schema_migrations");
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (Exception exception) when (exception is Npgsql.NpgsqlException or TimeoutException)
        {
            Log.Unreachable(logger, exception);
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(103, LogLevel.Information, "PostgreSQL storage ready at {Database} ({Applied} migrations applied now)")]
        public static partial void Ready(ILogger logger, string database, int applied);

        [LoggerMessage(104, LogLevel.Warning, "Storage is not reachable")]
        public static partial void Unreachable(ILogger logger, Exception exception);
    }
}

/// <summary>
/// The usage log's monthly partitions (<c>usage_records_yYYYYmMM</c>), made from last month to three months ahead at
/// start and each day after; a record outside them lands in the default partition rather than failing.
/// </summary>
internal static partial class UsagePartitions
{
    public static async Task EnsureAsync(Npgsql.NpgsqlConnection connection, DateTimeOffset now, ILogger logger, CancellationToken cancellationToken)
    {
        var first = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(-1);
        for (var month = first; month <= first.AddMonths(4); month = month.AddMonths(1))
        {
            var name = $"usage_records_y{month.Year:D4}m{month.Month:D2}";
            var sql = $"CREATE TABLE IF NOT EXISTS {name} PARTITION OF usage_records FOR VALUES FROM ({month.ToUnixTimeMilliseconds()}) TO ({month.AddMonths(1).ToUnixTimeMilliseconds()})";
            try
            {
                await using var command = connection.Command(sql);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (Npgsql.PostgresException exception) when (exception.SqlState is "23514" or "42P17" or "42P07")
            {
                // The default partition already holds rows of that month (23514), or another instance made it meanwhile.
                Log.PartitionSkipped(logger, name, exception.MessageText);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(105, LogLevel.Warning, "Usage partition {Name} was not created: {Reason}")]
        public static partial void PartitionSkipped(ILogger logger, string name, string reason);
    }
}
