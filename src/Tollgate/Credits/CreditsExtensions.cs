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
        builder.Services.AddSingleton<IBillingStore, SqliteBillingStore>();
        builder.Services.AddSingleton<PendingUsage>();
        builder.Services.AddSingleton(sp => new UsageJournal(
            sp.GetRequiredService<IOptions<CreditsOptions>>().Value.JournalPath ?? sp.GetRequiredService<SqliteDatabase>().FilePath + ".usage"));
        builder.Services.AddSingleton<BillingWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BillingWriter>());
        builder.Services.AddSingleton<CreditLedger>();
        builder.Services.AddHostedService<ReservationSweeper>();
        return builder;
    }
}

/// <summary>Releases reservations whose requests hung or died, once a minute.</summary>
internal sealed partial class ReservationSweeper(CreditLedger ledger, TimeProvider time, IOptions<CreditsOptions> options, ILogger<ReservationSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (ledger.ReleaseStale(options.Value.ReservationTimeout) is > 0 and var released)
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
        [LoggerMessage(401, LogLevel.Warning, "Released {Count} stale credit reservations")]
        public static partial void Released(ILogger logger, int count);
    }
}
