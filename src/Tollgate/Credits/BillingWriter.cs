using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Tollgate.Credits;

/// <summary>
/// The one writer of usage records and charges. Requests hand in their record and wait; the
/// writer takes everything that queued up while the previous batch was committing and writes it
/// in one transaction (a group commit). So no request pays for a transaction of its own, and none
/// sends its final byte before its charge has reached the operating system.
/// </summary>
internal sealed partial class BillingWriter(IBillingStore store, IOptions<CreditsOptions> options, ILogger<BillingWriter> logger)
    : BackgroundService
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    private long _commits;

    private sealed record Pending(UsageRecord Record, TaskCompletionSource Written);

    /// <summary>Group commits so far (records per commit = records / commits).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Completes once the record (and its charge) is committed.</summary>
    public Task WriteAsync(UsageRecord record)
    {
        var pending = new Pending(record, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return _queue.Writer.TryWrite(pending)
            ? pending.Written.Task
            : Task.FromException(new InvalidOperationException("Tollgate is shutting down; the usage record was not written"));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(options.Value.MaxBatch);
        var records = new List<UsageRecord>(options.Value.MaxBatch);

        // Runs until the queue is completed and drained (at shutdown), not until the stopping token:
        // every record handed in is written.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            records.Clear();
            while (batch.Count < options.Value.MaxBatch && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
                records.Add(pending.Record);
            }

            try
            {
                await store.WriteUsageAsync(records, CancellationToken.None);
                Interlocked.Increment(ref _commits);
                foreach (var pending in batch)
                {
                    pending.Written.TrySetResult();
                }
            }
            catch (Exception exception)
            {
                Log.WriteFailed(logger, batch.Count, exception);
                foreach (var pending in batch)
                {
                    pending.Written.TrySetException(exception);
                }
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(400, LogLevel.Error, "Writing {Count} usage records failed; their requests end with an error")]
        public static partial void WriteFailed(ILogger logger, int count, Exception exception);
    }
}
