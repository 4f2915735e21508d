using System.Data.Common;
using System.Globalization;
using System.Reflection;

namespace Tollgate.Storage;

/// <summary>
/// Applies the embedded SQL scripts of one dialect (<c>Storage/Migrations/{dialect}/NNNN_name.sql</c>)
/// in order, each in its own transaction together with its row in <c>schema_migrations</c>.
/// The PostgreSQL twin uses the same runner with its own folder of scripts.
/// </summary>
internal sealed partial class MigrationRunner(string dialect, ILogger logger)
{
    internal sealed record Script(int Version, string Name, string Sql);

    /// <summary>The dialect's scripts, ordered by version; the numbering must have no gaps.</summary>
    public IReadOnlyList<Script> LoadScripts()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var prefix = $"{assembly.GetName().Name}.Storage.Migrations.{dialect}.";
        var scripts = new List<Script>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(prefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[prefix.Length..^".sql".Length];
            var version = int.Parse(name.AsSpan(0, name.IndexOf('_', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
            using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
            scripts.Add(new Script(version, name, reader.ReadToEnd()));
        }

        scripts.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 0; i < scripts.Count; i++)
        {
            if (scripts[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Migration scripts for {dialect} must be numbered 1, 2, 3...; found {scripts[i].Name}.");
            }
        }

        return scripts;
    }

    /// <summary>
    /// The PostgreSQL advisory lock that instances starting together queue on: one applies the missing
    /// scripts, the others then find nothing left to do.
    /// </summary>
    public const long PostgresMigrationLock = 0x546F6C6C67617465; // "Tollgate"

    /// <summary>Applies what is missing; returns how many scripts ran.</summary>
    public async Task<int> ApplyAsync(DbConnection connection, TimeProvider time, CancellationToken cancellationToken)
    {
        if (dialect != "postgres")
        {
            return await ApplyUnlockedAsync(connection, time, cancellationToken);
        }

        // Session-level: held across the per-script transactions, released however this ends.
        await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({PostgresMigrationLock})", cancellationToken);
        try
        {
            return await ApplyUnlockedAsync(connection, time, cancellationToken);
        }
        finally
        {
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({PostgresMigrationLock})", CancellationToken.None);
        }
    }

    private async Task<int> ApplyUnlockedAsync(DbConnection connection, TimeProvider time, CancellationToken cancellationToken)
    {
        var scripts = LoadScripts();
        await ExecuteAsync(connection, null,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            cancellationToken);

        var applied = 0;
        foreach (var script in scripts)
        {
            // One transaction per script: a failed script leaves no half-applied schema behind.
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var current = await CurrentVersionAsync(connection, transaction, cancellationToken);
            if (current > scripts.Count)
            {
                throw new InvalidOperationException(
                    $"The database is at schema version {current}, newer than this Tollgate knows ({scripts.Count}). Upgrade Tollgate.");
            }

            if (script.Version <= current)
            {
                continue;
            }

            await ExecuteAsync(connection, transaction, script.Sql, cancellationToken);
            using (var record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @at)";
                AddParameter(record, "@version", script.Version);
                AddParameter(record, "@name", script.Name);
                AddParameter(record, "@at", time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            Log.Applied(logger, dialect, script.Version, script.Name);
            applied++;
        }

        return applied;
    }

    private static async Task<int> CurrentVersionAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Information, "Applied {Dialect} migration {Version}: {Name}")]
        public static partial void Applied(ILogger logger, string dialect, int version, string name);
    }
}
