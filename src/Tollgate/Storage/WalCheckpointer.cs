namespace Tollgate.Storage;

/// <summary>
/// Moves the SQLite write-ahead log into the database file in the background, twice a second,
/// so that no commit waits for a checkpoint (the billing writer switches automatic checkpoints
/// off on its connection). PASSIVE checkpoints never block readers or the writer — but under
/// steady writes they never catch up with the log's end either, and SQLite only starts the log
/// again from its beginning after a checkpoint that did. So once the log holds more than
/// <see cref="TruncateAbovePages"/> pages, a RESTART checkpoint waits for the writer between two
/// of its commits, copies the rest and has the next commit start the log from its beginning
/// (cutting the file back to <c>journal_size_limit</c>): the log, and its shared-memory index,
/// which counts in the process's memory, stay bounded however long the load lasts. Requests do
/// not wait for it: their records are in the usage journal.
/// </summary>
internal sealed partial class WalCheckpointer(SqliteDatabase database, TimeProvider time, ILogger<WalCheckpointer> logger,
    int truncateAbovePages = WalCheckpointer.DefaultTruncateAbovePages) : BackgroundService
{
    /// <summary>4096 pages of 4 KiB: a 16 MiB log.</summary>
    public const int DefaultTruncateAbovePages = 4096;

    private long _restarts;

    public int TruncateAbovePages { get; } = truncateAbovePages;

    /// <summary>RESTART checkpoints so far: how often the log was past its bound.</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CheckpointAsync(stoppingToken);
                }
                catch (Microsoft.Data.Sqlite.SqliteException exception)
                {
                    Log.CheckpointFailed(logger, exception);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round: PASSIVE, then RESTART when the log is past its bound. Returns the pages in the log.</summary>
    public async Task<long> CheckpointAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var pages = await RunAsync(connection, "PASSIVE", cancellationToken);
        if (pages > TruncateAbovePages)
        {
            // Between two of the usage writer's batches, by turn: under steady load it would otherwise never get in.
            await database.CommitGate.WaitAsync(cancellationToken);
            try
            {
                pages = await RunAsync(connection, "RESTART", cancellationToken);
            }
            finally
            {
                database.CommitGate.Release();
            }

            Interlocked.Increment(ref _restarts);
            Log.Truncated(logger, pages);
        }

        return pages;
    }

    /// <summary>Runs a checkpoint; returns the pages left in the log (SQLite's second result column).</summary>
    private static async Task<long> RunAsync(Microsoft.Data.Sqlite.SqliteConnection connection, string mode, CancellationToken cancellationToken)
    {
        using var checkpoint = connection.Command($"PRAGMA wal_checkpoint({mode})");
        await using var result = await checkpoint.ExecuteReaderAsync(cancellationToken);
        // Columns: busy, pages in the log, pages copied into the database.
        return await result.ReadAsync(cancellationToken) ? result.GetInt64(1) : 0;
    }

    private static partial class Log
    {
        [LoggerMessage(103, LogLevel.Warning, "SQLite checkpoint failed; will retry")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);

        [LoggerMessage(104, LogLevel.Debug, "The SQLite log was past its bound: checkpointed it and started it again ({Pages} pages)")]
        public static partial void Truncated(ILogger logger, long pages);
    }
}
