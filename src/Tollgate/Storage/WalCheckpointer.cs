namespace Tollgate.Storage;

/// <summary>
/// Moves the SQLite write-ahead log into the database file in the background, twice a second,
/// so that no request's commit waits for a checkpoint (the billing writer switches automatic
/// checkpoints off on its connection). PASSIVE checkpoints never block readers or the writer.
/// </summary>
internal sealed partial class WalCheckpointer(SqliteDatabase database, TimeProvider time, ILogger<WalCheckpointer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await using var connection = await database.OpenAsync(stoppingToken);
                    using var checkpoint = connection.Command("PRAGMA wal_checkpoint(PASSIVE)");
                    await checkpoint.ExecuteNonQueryAsync(stoppingToken);
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

    private static partial class Log
    {
        [LoggerMessage(103, LogLevel.Warning, "SQLite checkpoint failed; will retry")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);
    }
}
