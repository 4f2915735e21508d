using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Tollgate.Credits;

/// <summary>
/// The one writer of usage records and charges. A request hands in its record; by default the
/// record is appended to the <see cref="UsageJournal"/> (one write to the operating system) and
/// the request goes on, while the writer commits what queued up to the database in large batches,
/// off the request path. With <see cref="CreditsOptions.FsyncEachCommit"/> there is no journal:
/// the request waits for the group commit that fsyncs its record.
/// </summary>
/// <remarks>
/// Whatever reads billing data back (balances, spend, generations, usage) first calls
/// <see cref="FlushAsync"/>, so a record handed in before the read is in the database when the
/// read runs: readers never see the journal's lag.
/// </remarks>
internal sealed partial class BillingWriter : BackgroundService
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IBillingStore _store;
    private readonly IOptions<CreditsOptions> _options;
    private readonly ILogger<BillingWriter> _logger;
    private readonly UsageJournal? _recoverFrom; // what a previous run left is replayed even with FsyncEachCommit
    private readonly UsageJournal? _journal; // null: requests wait for their commit

    /// <summary>How long journaled records wait for more to share their transaction.</summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(5);

    /// <summary>Most records journaled but not yet in the database before requests wait for the database.</summary>
    public const int MaxPending = 50_000;

    private long _commits;
    private long _queued;
    private long _written;

    /// <param name="Record">The record, or null for a flush barrier.</param>
    /// <param name="Written">Completed once the record (or everything before the barrier) is committed; null for journaled records.</param>
    /// <param name="Segment">The journal segment holding the record.</param>
    private sealed record Pending(UsageRecord? Record, TaskCompletionSource? Written, long Segment);

    public BillingWriter(IBillingStore store, IOptions<CreditsOptions> options, ILogger<BillingWriter> logger,
        UsageJournal? journal = null, PendingUsage? pending = null)
    {
        _store = store;
        _options = options;
        _logger = logger;
        _recoverFrom = journal;
        _journal = options.Value.FsyncEachCommit ? null : journal;
        pending?.Attach(FlushAsync);
    }

    /// <summary>Group commits so far (records per commit = records / commits).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>True when records are acknowledged once journaled, before they reach the database.</summary>
    public bool Journaled => _journal is not null;

    /// <summary>Completes once the record (and its charge) is durable: journaled, or committed when there is no journal.</summary>
    public Task WriteAsync(UsageRecord record)
    {
        if (_journal is null)
        {
            var pending = new Pending(record, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), 0);
            return Enqueue(pending) ? pending.Written!.Task : ShuttingDown();
        }

        var line = UsageJournal.Serialize(record);
        var queued = false;
        try
        {
            _journal.Append(line, segment => queued = Enqueue(new Pending(record, null, segment)));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Log.JournalFailed(_logger, exception);
            return Task.FromException(exception);
        }

        if (!queued)
        {
            return ShuttingDown();
        }

        // Back-pressure: when the database falls this far behind, requests wait for it rather than the queue growing without bound.
        return Interlocked.Read(ref _queued) - Interlocked.Read(ref _written) > MaxPending ? FlushAsync(CancellationToken.None) : Task.CompletedTask;
    }

    /// <summary>Completes once every record handed in before the call is committed to the database.</summary>
    public Task FlushAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _written) == Interlocked.Read(ref _queued))
        {
            return Task.CompletedTask;
        }

        var barrier = new Pending(null, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), 0);
        return Enqueue(barrier) ? barrier.Written!.Task.WaitAsync(cancellationToken) : Task.CompletedTask;
    }

    private bool Enqueue(Pending pending)
    {
        // Counted before it is queued, so written never passes queued and equal counts mean nothing is pending.
        var counted = pending.Record is not null;
        if (counted)
        {
            Interlocked.Increment(ref _queued);
        }

        if (_queue.Writer.TryWrite(pending))
        {
            return true;
        }

        if (counted)
        {
            Interlocked.Decrement(ref _queued);
        }

        return false;
    }

    private static Task ShuttingDown() =>
        Task.FromException(new InvalidOperationException("Tollgate is shutting down; the usage record was not written"));

    /// <summary>Writes what a previous run journaled but did not commit, then opens a new journal segment; before any request.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_recoverFrom is not null)
        {
            _recoverFrom.Acquire();
            var replayed = await RecoverAsync(_recoverFrom, cancellationToken);
            _journal?.Open(after: replayed);
        }

        await base.StartAsync(cancellationToken);
    }

    /// <summary>Writes every segment's records to the database and deletes the segment; returns the last segment's number.</summary>
    private async Task<long> RecoverAsync(UsageJournal journal, CancellationToken cancellationToken)
    {
        var recovered = 0;
        var unreadable = 0;
        var last = 0L;
        foreach (var (sequence, path) in journal.Segments())
        {
            last = sequence;
            foreach (var batch in UsageJournal.Read(path, () => unreadable++).Chunk(_options.Value.MaxBatch))
            {
                await _store.WriteUsageAsync(batch, cancellationToken);
                recovered += batch.Length;
            }

            File.Delete(path);
        }

        if (recovered > 0 || unreadable > 0)
        {
            Log.Recovered(_logger, recovered, unreadable, journal.Prefix);
        }

        return last;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var maxBatch = _options.Value.MaxBatch;
        var batch = new List<Pending>(maxBatch);
        var records = new List<UsageRecord>(maxBatch);
        var failures = 0;

        // Runs until the queue is completed and drained (at shutdown), not until the stopping token:
        // every record handed in is written.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            // Journaled records wait a moment for company: one transaction for many records costs far less CPU
            // than one each, and no request waits for it. A flush (a reader waiting) goes at once.
            if (_journal is not null && _queue.Reader.TryPeek(out var first) && first.Record is not null &&
                Interlocked.Read(ref _queued) - Interlocked.Read(ref _written) < maxBatch)
            {
                await Task.Delay(BatchWindow, CancellationToken.None);
            }

            batch.Clear();
            records.Clear();
            var lastSegment = 0L;
            while (records.Count < maxBatch && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
                if (pending.Record is not null)
                {
                    records.Add(pending.Record);
                    lastSegment = pending.Segment;
                }
            }

            while (true)
            {
                try
                {
                    if (records.Count > 0)
                    {
                        await _store.WriteUsageAsync(records, CancellationToken.None);
                        Interlocked.Increment(ref _commits);
                        Interlocked.Add(ref _written, records.Count);
                    }

                    failures = 0;
                    foreach (var pending in batch)
                    {
                        pending.Written?.TrySetResult();
                    }

                    _journal?.ReleaseBefore(lastSegment); // a barrier holds no segment: the last record's counts
                    break;
                }
                catch (Exception exception)
                {
                    Log.WriteFailed(_logger, records.Count, exception);
                    if (_journal is null)
                    {
                        // Nothing else holds these records: their requests end with an error instead.
                        foreach (var pending in batch)
                        {
                            pending.Written?.TrySetException(exception);
                        }

                        break;
                    }

                    // The journal holds them and their clients were answered: try again until the database takes them.
                    failures++;
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10_000, 100 * Math.Pow(2, Math.Min(failures, 7)))), CancellationToken.None);
                }
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        if (_journal is not null && Interlocked.Read(ref _written) == Interlocked.Read(ref _queued))
        {
            _journal.DeleteAll(); // everything is in the database
        }

        _recoverFrom?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(400, LogLevel.Error, "Writing {Count} usage records to the database failed")]
        public static partial void WriteFailed(ILogger logger, int count, Exception exception);

        [LoggerMessage(402, LogLevel.Warning,
            "Wrote {Count} usage records left in the journal by the previous run ({Unreadable} unreadable lines skipped; journal {Prefix})")]
        public static partial void Recovered(ILogger logger, int count, int unreadable, string prefix);

        [LoggerMessage(403, LogLevel.Error, "Appending a usage record to the journal failed; the request ends with an error")]
        public static partial void JournalFailed(ILogger logger, Exception exception);
    }
}
