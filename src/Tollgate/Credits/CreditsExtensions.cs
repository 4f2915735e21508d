using Tollgate.Configuration;
using Microsoft.Extensions.Options;
using Tollgate.Storage;

namespace Tollgate.Credits;

internal static class CreditsExtensions
{
    /// <summary>Registers credits: the ledger of reservations, the usage journal and its writer, and the sweeper.</summary>
    public static IHostApplicationBuilder AddCredits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CreditsOptions>().BindConfiguration(CreditsOptions.Section).ValidateSettings(o => o.Validate());
        builder.Services.AddSingleton<PendingUsage>();
        if (!StorageOptions.UsesPostgres(builder.Configuration))
        {
            // On PostgreSQL there is no journal on local disk: each request waits for the group commit of its charge, so a
            // completed answer is in the books even if its instance and its disk never come back.
            builder.Services.AddSingleton(sp => new UsageJournal(
                sp.GetRequiredService<IOptions<CreditsOptions>>().Value.JournalPath ?? sp.GetRequiredService<SqliteDatabase>().FilePath + ".usage"));
        }

        builder.Services.AddSingleton<BillingWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BillingWriter>());
        builder.Services.AddSingleton<CreditLedger>();
        builder.Services.AddSingleton<CreditGrants>();
        builder.Services.AddHostedService<ReservationSweeper>();
        return builder;
    }
}

/// <summary>Releases the reservations of requests whose client left and whose handler hung (<see cref="CreditLedger.ReleaseAbandoned"/>).</summary>
internal sealed partial class ReservationSweeper(CreditLedger ledger, TimeProvider time, IOptions<CreditsOptions> options, ILogger<ReservationSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Every half timeout, and at least once a minute: a reservation is freed at most half a timeout late.
        var timeout = options.Value.ReservationTimeout;
        using var timer = new PeriodicTimer(timeout < TimeSpan.FromMinutes(2) ? timeout / 2 : TimeSpan.FromMinutes(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (ledger.ReleaseAbandoned(timeout) is > 0 and var released)
                {
                    Log.Released(logger, released);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(401, LogLevel.Warning, "Released {Count} credit reservations of requests that were gone but never settled")]
        public static partial void Released(ILogger logger, int count);
    }
}
