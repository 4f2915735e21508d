using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Tollgate.ApiKeys;
using Tollgate.Storage;

namespace Tollgate.Cluster;

/// <summary>
/// Revocation across instances, with PostgreSQL as the truth. A change that can refuse a key (delete, disable, rotate,
/// PATCH, an account disabled) is a row in <c>key_changes</c> plus a <c>NOTIFY</c>; every instance listens, also reads
/// the table every <see cref="PollInterval"/> as a backstop, evicts, and records the last change it applied
/// (<c>instances.seen_change</c>). <see cref="PublishAsync"/> returns once every live instance has applied the change.
/// </summary>
/// <remarks>
/// The bound that holds when something is down: an instance trusts its cached keys only while its last read of the
/// feed is younger than <see cref="TrustFor"/> (2 s). Past that (PostgreSQL unreachable, the listener stuck) every
/// request reads storage, which refuses what was revoked, or fails. So the publisher waits for every live instance's
/// acknowledgement, or at most <see cref="TrustFor"/> plus a margin, after which no instance can still use the old
/// state. The request path costs one comparison of a timestamp: no round trip.
/// </remarks>
internal sealed partial class KeyChangeFeed : BackgroundService, IKeyRevocationFeed
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan TrustFor = TimeSpan.FromSeconds(2);
    private const string Channel = "tollgate_key_changes";

    private readonly PostgresDatabase _database;
    private readonly ApiKeyCache _cache;
    private readonly ClusterInstance _instance;
    private readonly IOptions<ClusterOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<KeyChangeFeed> _logger;
    private long _applied;
    private long _currentUntil; // Stopwatch timestamp until which the cache may be trusted

    public KeyChangeFeed(PostgresDatabase database, ApiKeyCache cache, ClusterInstance instance, IOptions<ClusterOptions> options,
        TimeProvider time, ILogger<KeyChangeFeed> logger)
    {
        _database = database;
        _cache = cache;
        _instance = instance;
        _options = options;
        _time = time;
        _logger = logger;
        cache.Feed = this;
    }

    public bool IsCurrent => Stopwatch.GetTimestamp() < Volatile.Read(ref _currentUntil);

    /// <summary>The last change applied here.</summary>
    public long Applied => Interlocked.Read(ref _applied);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Changes made before this start do not matter (the cache is empty): begin after the newest.
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var newest = connection.Command("SELECT COALESCE(MAX(seq), 0) FROM key_changes");
        _applied = (long)(await newest.ExecuteScalarAsync(cancellationToken))!;
        await AcknowledgeAsync(connection, cancellationToken);
        Trust(Stopwatch.GetTimestamp());
        await base.StartAsync(cancellationToken);
    }

    public async Task PublishAsync(string scope, string id, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        long seq;
        await using (var connection = await _database.OpenAsync(CancellationToken.None))
        {
            await using var insert = connection.Command(
                """
                WITH c AS (INSERT INTO key_changes (scope, target_id, created_at) VALUES (@scope, @id, @now) RETURNING seq)
                SELECT seq, pg_notify('tollgate_key_changes', seq::text) FROM c
                """,
                ("scope", scope), ("id", id), ("now", _time.GetUtcNow().ToUnixTimeMilliseconds()));
            seq = (long)(await insert.ExecuteScalarAsync(CancellationToken.None))!;
        }

        // Every live instance acknowledges, or the trust bound runs out (a silent instance then reads storage).
        var deadline = TrustFor + TimeSpan.FromMilliseconds(250);
        var live = _options.Value.DeadAfter;
        while (Stopwatch.GetElapsedTime(started) < deadline)
        {
            await using var connection = await _database.OpenAsync(CancellationToken.None);
            await using var behind = connection.Command(
                "SELECT COUNT(*) FROM instances WHERE seen_at >= @live AND seen_change < @seq",
                ("live", (_time.GetUtcNow() - live).ToUnixTimeMilliseconds()), ("seq", seq));
            if ((long)(await behind.ExecuteScalarAsync(CancellationToken.None))! == 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None);
        }

        Log.Unacknowledged(_logger, seq);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var listener = await _database.OpenAsync(stoppingToken);
                await using (var listen = listener.Command($"LISTEN {Channel}"))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                while (!stoppingToken.IsCancellationRequested)
                {
                    var read = Stopwatch.GetTimestamp();
                    await ApplyChangesAsync(listener, stoppingToken);
                    Trust(read);

                    // Wake on a notification, or poll again after the interval.
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    wait.CancelAfter(PollInterval);
                    try
                    {
                        await listener.WaitAsync(wait.Token);
                    }
                    catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                    {
                    }
                }
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException or InvalidOperationException &&
                !stoppingToken.IsCancellationRequested)
            {
                Log.FeedFailed(_logger, exception);
                await Task.Delay(PollInterval, _time, stoppingToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
        }
    }

    private async Task ApplyChangesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = Applied;
        await using (var changes = connection.Command(
            "SELECT seq, scope, target_id FROM key_changes WHERE seq > @after ORDER BY seq LIMIT 10000", ("after", applied)))
        await using (var reader = await changes.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetString(1) == "account")
                {
                    _cache.EvictAccount(reader.GetString(2));
                }
                else
                {
                    _cache.Evict(reader.GetString(2));
                }

                applied = reader.GetInt64(0);
            }
        }

        if (applied != Applied)
        {
            Interlocked.Exchange(ref _applied, applied);
            await AcknowledgeAsync(connection, cancellationToken);
        }
    }

    private async Task AcknowledgeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var ack = connection.Command(
            """
            INSERT INTO instances (id, started_at, seen_at, seen_change) VALUES (@id, @started, @now, @seq)
            ON CONFLICT (id) DO UPDATE SET seen_change = GREATEST(instances.seen_change, @seq)
            """,
            ("id", _instance.Id), ("started", _instance.StartedAt.ToUnixTimeMilliseconds()), ("now", _time.GetUtcNow().ToUnixTimeMilliseconds()),
            ("seq", Applied));
        await ack.ExecuteNonQueryAsync(cancellationToken);
    }

    private void Trust(long readAt) =>
        Volatile.Write(ref _currentUntil, readAt + (long)(TrustFor.TotalSeconds * Stopwatch.Frequency));

    private static partial class Log
    {
        [LoggerMessage(910, LogLevel.Warning,
            "Key change {Seq} was not acknowledged by every live instance within the trust bound; those that did not now read storage for every key")]
        public static partial void Unacknowledged(ILogger logger, long seq);

        [LoggerMessage(911, LogLevel.Warning, "The key change feed lost PostgreSQL; cached keys are not trusted until it is back")]
        public static partial void FeedFailed(ILogger logger, Exception exception);
    }
}
