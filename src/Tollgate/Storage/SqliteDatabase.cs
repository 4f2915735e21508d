using Microsoft.Data.Sqlite;

namespace Tollgate.Storage;

/// <summary>
/// Opens connections to the SQLite file. WAL lets readers run beside the single writer;
/// <c>synchronous=NORMAL</c> makes a commit durable against a crash of the process (not of
/// the machine), which is what SPEC section 4 asks for by default.
/// </summary>
internal sealed class SqliteDatabase
{
    private readonly string _connectionString;

    public SqliteDatabase(string path)
    {
        FilePath = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string FilePath { get; }

    /// <summary>
    /// Held by the usage writer around each batch and by <see cref="WalCheckpointer"/> around a RESTART
    /// checkpoint, so that back-to-back batches under load can never starve the checkpoint that keeps
    /// the log bounded (SQLite's busy handler alone gives no turn order).
    /// </summary>
    public SemaphoreSlim CommitGate { get; } = new(1, 1);

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        using var pragma = connection.CreateCommand();
        // journal_size_limit: when the log starts again from its beginning, the file is cut back to 16 MiB.
        pragma.CommandText = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA journal_size_limit = 16777216;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>Creates the folder and switches the file to WAL (a persistent setting).</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = WAL;";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
