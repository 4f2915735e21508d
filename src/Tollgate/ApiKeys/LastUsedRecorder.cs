using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Tollgate.ApiKeys;

/// <summary>
/// Remembers when each key was last used and writes the times to storage in one batch every
/// <see cref="ApiKeyOptions.LastUsedFlushInterval"/>, so a request never waits on a write.
/// Times not yet written are overlaid on what the key endpoints return.
/// </summary>
internal sealed partial class LastUsedRecorder(
    IApiKeyStore store,
    TimeProvider time,
    IOptions<ApiKeyOptions> options,
    ILogger<LastUsedRecorder> logger) : BackgroundService
{
    private static readonly TimeSpan Resolution = TimeSpan.FromSeconds(1);
    private ConcurrentDictionary<string, DateTimeOffset> _pending = new(StringComparer.Ordinal);

    public void Touch(string keyId)
    {
        var now = time.GetUtcNow();
        if (_pending.TryGetValue(keyId, out var previous) && now - previous < Resolution)
        {
            return; // Already recorded within the last second: skip the write to the dictionary.
        }

        _pending.AddOrUpdate(keyId, static (_, now) => now, static (_, previous, now) => now > previous ? now : previous, now);
    }

    /// <summary>The key with its last-used time brought up to date with what is not yet written.</summary>
    public ApiKey Overlay(ApiKey key) =>
        _pending.TryGetValue(key.Id, out var at) && (key.LastUsedAt is null || at > key.LastUsedAt) ? key with { LastUsedAt = at } : key;

    /// <summary>Writes what is pending now.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        var batch = Interlocked.Exchange(ref _pending, new ConcurrentDictionary<string, DateTimeOffset>(StringComparer.Ordinal));
        try
        {
            await store.RecordLastUsedAsync(batch.ToArray(), cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Put the batch back so the next flush tries again; the times only move forward.
            foreach (var (id, at) in batch)
            {
                _pending.AddOrUpdate(id, static (_, at) => at, static (_, previous, at) => at > previous ? at : previous, at);
            }

            Log.FlushFailed(logger, batch.Count, exception);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.LastUsedFlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(CancellationToken.None);
    }

    private static partial class Log
    {
        [LoggerMessage(200, LogLevel.Warning, "Writing last-used times of {Count} keys failed; will retry")]
        public static partial void FlushFailed(ILogger logger, int count, Exception exception);
    }
}
