using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Tollgate.Storage;

namespace Tollgate.Tests.Infrastructure;

/// <summary>A migrated SQLite database in a folder of its own, with one account: for tests of the billing writer and storage.</summary>
internal sealed class TempBillingDatabase : IDisposable
{
    private TempBillingDatabase(string folder, SqliteDatabase database)
    {
        Folder = folder;
        Database = database;
    }

    public string Folder { get; }

    public SqliteDatabase Database { get; }

    public static async Task<TempBillingDatabase> CreateAsync(string accountId)
    {
        var folder = Directory.CreateTempSubdirectory("tollgate-billing-").FullName;
        var database = new SqliteDatabase(Path.Combine(folder, "tollgate.db"));
        await database.InitializeAsync(CancellationToken.None);
        await using var connection = await database.OpenAsync(CancellationToken.None);
        await new MigrationRunner("sqlite", NullLogger.Instance).ApplyAsync(connection, TimeProvider.System, CancellationToken.None);
        using var account = connection.Command(
            "INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at) VALUES (@id, @email, @email, 'test', 'owner', 'x', 0)",
            ("@id", accountId), ("@email", accountId + "@example.com"));
        await account.ExecuteNonQueryAsync(CancellationToken.None);
        return new TempBillingDatabase(folder, database);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(Folder, recursive: true);
    }
}
