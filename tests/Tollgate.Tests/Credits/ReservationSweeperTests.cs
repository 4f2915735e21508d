using Microsoft.Extensions.Time.Testing;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Credits;

public sealed class ReservationSweeperTests
{
    [Fact]
    public async Task Sweeper_ReservationOfAHungRequest_IsReleasedAfterTheTimeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var factory = new TollgateFactory(new() { ["Tollgate:Credits:InitialCredits"] = "1" }, time);
        var account = await factory.CreateAccountAsync();
        var (key, _) = await factory.CreateKeyAsync(account.Id);
        var ledger = factory.Service<CreditLedger>();
        var hung = await ledger.ReserveAsync(key, Money.ToNanos(0.4m), (_, _) => "no", CancellationToken.None);

        time.Advance(TimeSpan.FromMinutes(10));
        var fresh = await ledger.ReserveAsync(key, Money.ToNanos(0.4m), (_, _) => "no", CancellationToken.None);
        var early = ledger.ReleaseStale(TimeSpan.FromMinutes(30));
        time.Advance(TimeSpan.FromMinutes(25)); // the sweeper's one-minute timer fires on this clock
        for (var i = 0; i < 100 && !hung.IsClosed; i++)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.Equal(0, early);
        Assert.True(hung.IsClosed);
        Assert.False(fresh.IsClosed);
        Assert.Equal(Money.ToNanos(0.4m), ledger.ReservedFor(account.Id));
        await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.SettleAsync(hung, new UsageRecord
        {
            GenerationId = "gen-late",
            AccountId = account.Id,
            KeyId = key.Id,
            Model = "demo/echo",
            CostNanos = 1,
            CreatedAt = time.GetUtcNow(),
        }));
    }
}
