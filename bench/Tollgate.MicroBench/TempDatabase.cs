using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Tollgate.Storage;

namespace Tollgate.MicroBench;

/// <summary>A real SQLite file in a temporary folder, migrated, with one account; deleted on dispose.</summary>
internal sealed class TempDatabase : IDisposable
{
    public const string AccountId = "acc_bench";

    private readonly string _folder;

    private TempDatabase(string folder, SqliteDatabase database)
    {
        _folder = folder;
        Database = database;
    }

    public SqliteDatabase Database { get; }

    public static async Task<TempDatabase> CreateAsync()
    {
        var folder = Directory.CreateTempSubdirectory("tollgate-microbench-").FullName;
        var database = new SqliteDatabase(Path.Combine(folder, "bench.db"));
        await database.InitializeAsync(CancellationToken.None);
        await using (var connection = await database.OpenAsync(CancellationToken.None))
        {
            await new MigrationRunner("sqlite", NullLogger.Instance).ApplyAsync(connection, TimeProvider.System, CancellationToken.None);
            using var account = connection.Command(
                "INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at) VALUES (@id, 'b@x', 'b@x', 'b', 'owner', 'x', 0)",
                ("@id", AccountId));
            await account.ExecuteNonQueryAsync();
        }

        return new TempDatabase(folder, database);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
