using Microsoft.Extensions.Options;
using Tollgate.Configuration;
using Tollgate.Credits;

namespace Tollgate.Cluster;

/// <summary>Running as one of several instances (<c>Tollgate:Cluster</c>); used with PostgreSQL storage.</summary>
internal sealed class ClusterOptions
{
    public const string Section = "Tollgate:Cluster";

    /// <summary>How often this instance writes its heartbeat row (and looks for holds of stopped instances).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// An instance not heard from for this long is taken as stopped: its holds are settled at their full amount and
    /// flagged for reconciliation. Longer than any pause a live instance has (garbage collection, a PostgreSQL failover).
    /// </summary>
    public TimeSpan DeadAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The most a hold may live even while its instance is alive: longer than the longest request may run.</summary>
    public TimeSpan MaxHoldAge { get; set; } = TimeSpan.FromHours(24);

    internal IEnumerable<string> Validate()
    {
        if (HeartbeatInterval < TimeSpan.FromMilliseconds(100) || HeartbeatInterval > TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:HeartbeatInterval must be between 00:00:00.1 and 00:01:00";
        }

        if (DeadAfter < HeartbeatInterval * 3)
        {
            yield return $"{Section}:DeadAfter must be at least three heartbeats ({HeartbeatInterval * 3})";
        }

        if (MaxHoldAge < TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:MaxHoldAge must be at least 00:01:00";
        }
    }
}

/// <summary>This process, as the other instances see it: a new id each start, so a restart never adopts the holds of the last run.</summary>
internal sealed class ClusterInstance(IOptions<ClusterOptions> options, TimeProvider time)
{
    public string Id { get; } = Storage.Ids.New("inst");

    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

    public TimeSpan MaxHoldAge => options.Value.MaxHoldAge;
}

/// <summary>
/// Writes this instance's heartbeat, settles the holds of instances that stopped (at their amount, flagged), and adds
/// the usage log's partitions for the months ahead. The first heartbeat is written before the server takes requests.
/// </summary>
internal sealed partial class ClusterHeartbeat(ICreditHolds holds, ClusterInstance instance, Storage.PostgresDatabase database, TimeProvider time,
    IOptions<ClusterOptions> options, ILogger<ClusterHeartbeat> logger) : BackgroundService
{
    private int _live = 1;

    /// <summary>Instances heard from within <see cref="ClusterOptions.DeadAfter"/>, this one included (at least 1).</summary>
    public int LiveInstances => Volatile.Read(ref _live);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await holds.HeartbeatAsync(instance.Id, instance.StartedAt, time.GetUtcNow(), cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(settings.HeartbeatInterval, time);
        var partitionsDay = time.GetUtcNow().UtcDateTime.Date;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var now = time.GetUtcNow();
                    await holds.HeartbeatAsync(instance.Id, instance.StartedAt, now, stoppingToken);
                    Volatile.Write(ref _live, Math.Max(1, await holds.CountLiveInstancesAsync(now - settings.DeadAfter, stoppingToken)));
                    if (await holds.SettleExpiredAsync(now, now - settings.DeadAfter, 1000, stoppingToken) is > 0 and var settled)
                    {
                        Log.SettledExpired(logger, settled);
                    }

                    if (now.UtcDateTime.Date != partitionsDay)
                    {
                        await using var connection = await database.OpenAsync(stoppingToken);
                        await Storage.UsagePartitions.EnsureAsync(connection, now, logger, stoppingToken);
                        partitionsDay = now.UtcDateTime.Date;
                    }
                }
                catch (Exception exception) when (exception is Npgsql.NpgsqlException or TimeoutException)
                {
                    Log.HeartbeatFailed(logger, exception);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(900, LogLevel.Warning,
            "Settled {Count} credit holds of stopped instances at their full amount; they are listed in expired_holds for reconciliation")]
        public static partial void SettledExpired(ILogger logger, int count);

        [LoggerMessage(901, LogLevel.Warning, "The cluster heartbeat could not reach PostgreSQL")]
        public static partial void HeartbeatFailed(ILogger logger, Exception exception);
    }
}

internal static class ClusterExtensions
{
    /// <summary>On PostgreSQL storage: this instance's identity, its heartbeat and the sweeper of stopped instances' holds.</summary>
    public static IHostApplicationBuilder AddCluster(this IHostApplicationBuilder builder)
    {
        if (!Storage.StorageOptions.UsesPostgres(builder.Configuration))
        {
            return builder;
        }

        builder.Services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.Section).ValidateSettings(o => o.Validate());
        builder.Services.AddSingleton<ClusterInstance>();
        builder.Services.AddSingleton(sp => (ICreditHolds)sp.GetRequiredService<IBillingStore>());
        builder.Services.AddSingleton<ClusterHeartbeat>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ClusterHeartbeat>());
        builder.Services.AddSingleton<KeyChangeFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<KeyChangeFeed>());
        return builder;
    }
}
