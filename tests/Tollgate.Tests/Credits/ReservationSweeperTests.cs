using Microsoft.Extensions.Time.Testing;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Credits;

public sealed class ReservationSweeperTests
{
    [Fact]
    public async Task Sweeper_ReservationOfARequestGoneForTheTimeout_IsReleasedAndALiveOneIsNot()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var factory = new TollgateFactory(new() { ["Tollgate:Credits:InitialCredits"] = "1" }, time);
        var account = await factory.CreateAccountAsync();
        var (key, _) = await factory.CreateKeyAsync(account.Id);
        var ledger = factory.Service<CreditLedger>();
        using var hungClient = new CancellationTokenSource();
        using var liveClient = new CancellationTokenSource();
        var hung = await ledger.ReserveAsync(key, Money.ToNanos(0.4m), (_, _) => "no", hungClient.Token);
        var live = await ledger.ReserveAsync(key, Money.ToNanos(0.4m), (_, _) => "no", liveClient.Token);

        // The hung request's client leaves after 10 minutes; the live one stays connected throughout.
        time.Advance(TimeSpan.FromMinutes(10));
        await hungClient.CancelAsync();
        var early = ledger.ReleaseAbandoned(TimeSpan.FromMinutes(30));
        time.Advance(TimeSpan.FromMinutes(35)); // the sweeper's one-minute timer fires on this clock
        for (var i = 0; i < 100 && !hung.IsClosed; i++)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.Equal(0, early);
        Assert.True(hung.IsClosed);
        Assert.False(live.IsClosed);
        Assert.Equal(Money.ToNanos(0.4m), ledger.ReservedFor(account.Id));

        // A handler that comes back after all and settles is still charged, and its reservation is not freed twice.
        await ledger.SettleAsync(hung, new UsageRecord
        {
            GenerationId = "gen-late",
            AccountId = account.Id,
            KeyId = key.Id,
            Model = "demo/echo",
            CostNanos = 1,
            CreatedAt = time.GetUtcNow(),
        });
        Assert.Equal(Money.ToNanos(0.4m), ledger.ReservedFor(account.Id));
        ledger.Release(live);
        Assert.Equal(0, ledger.ReservedFor(account.Id));
    }
}
