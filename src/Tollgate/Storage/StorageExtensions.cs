using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tollgate.Accounts;
using Tollgate.ApiKeys;

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
            .Validate(o => string.Equals(o.Provider, "sqlite", StringComparison.OrdinalIgnoreCase),
                $"{StorageOptions.Section}:Provider must be 'sqlite' (PostgreSQL is not available yet)")
            .Validate(o => !string.IsNullOrWhiteSpace(o.SqlitePath), $"{StorageOptions.Section}:SqlitePath must name a file")
            .ValidateOnStart();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            var root = sp.GetRequiredService<IHostEnvironment>().ContentRootPath;
            return new SqliteDatabase(Path.Combine(root, options.SqlitePath));
        });
        builder.Services.AddSingleton<IAccountStore, SqliteAccountStore>();
        builder.Services.AddSingleton<IApiKeyStore, SqliteApiKeyStore>();
        builder.Services.AddSingleton<IInviteStore, SqliteInviteStore>();
        builder.Services.AddSingleton<ISignInFailureStore, SqliteSignInFailureStore>();
        builder.Services.AddSingleton<Audit.IAuditStore, SqliteAuditStore>();
        builder.Services.AddSingleton<StorageInitializer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StorageInitializer>());
        builder.Services.AddHostedService<WalCheckpointer>();
        return builder;
    }
}

/// <summary>Creates the database file and applies migrations before the server takes requests.</summary>
internal sealed partial class StorageInitializer(SqliteDatabase database, TimeProvider time, ILogger<StorageInitializer> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await database.InitializeAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        var applied = await new MigrationRunner("sqlite", logger).ApplyAsync(connection, time, cancellationToken);
        Log.Ready(logger, database.FilePath, applied);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>True when storage answers a trivial query (for <c>/readyz</c>).</summary>
    public async Task<bool> IsReachableAsync(CancellationToken cancellationToken)
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
