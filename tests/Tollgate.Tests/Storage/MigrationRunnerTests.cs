using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Tollgate.Storage;

namespace Tollgate.Tests.Storage;

public sealed class MigrationRunnerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tollgate-migrations-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private SqliteDatabase Database() => new(Path.Combine(_directory, "nested", "data", "tollgate.db"));

    [Fact]
    public async Task Apply_OnNewFile_CreatesFolderFileAndEverySchemaVersionInWalMode()
    {
        var database = Database();
        await database.InitializeAsync(CancellationToken.None);
        await using var connection = await database.OpenAsync(CancellationToken.None);
        var runner = new MigrationRunner("sqlite", NullLogger.Instance);

        var applied = await runner.ApplyAsync(connection, TimeProvider.System, CancellationToken.None);

        Assert.True(File.Exists(database.FilePath));
        Assert.Equal(runner.LoadScripts().Count, applied);
        Assert.Equal((long)applied, Scalar(connection, "SELECT MAX(version) FROM schema_migrations"));
        Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
        Assert.Equal(0L, Scalar(connection, "SELECT COUNT(*) FROM api_keys"));
    }

    [Fact]
    public async Task Apply_Twice_AppliesNothingTheSecondTime()
    {
        var database = Database();
        await database.InitializeAsync(CancellationToken.None);
        await using var connection = await database.OpenAsync(CancellationToken.None);
        var runner = new MigrationRunner("sqlite", NullLogger.Instance);
        await runner.ApplyAsync(connection, TimeProvider.System, CancellationToken.None);

        var second = await runner.ApplyAsync(connection, TimeProvider.System, CancellationToken.None);

        Assert.Equal(0, second);
        Assert.Equal((long)runner.LoadScripts().Count, Scalar(connection, "SELECT COUNT(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task Apply_DatabaseNewerThanThisBuild_RefusesToStart()
    {
        var database = Database();
        await database.InitializeAsync(CancellationToken.None);
        await using var connection = await database.OpenAsync(CancellationToken.None);
        var runner = new MigrationRunner("sqlite", NullLogger.Instance);
        await runner.ApplyAsync(connection, TimeProvider.System, CancellationToken.None);
        Scalar(connection, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', 'x')");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runner.ApplyAsync(connection, TimeProvider.System, CancellationToken.None));

        Assert.Contains("newer than this Tollgate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadScripts_AreNumberedFromOneWithoutGaps()
    {
        var scripts = new MigrationRunner("sqlite", NullLogger.Instance).LoadScripts();

        Assert.NotEmpty(scripts);
        Assert.Equal(Enumerable.Range(1, scripts.Count), scripts.Select(s => s.Version));
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
