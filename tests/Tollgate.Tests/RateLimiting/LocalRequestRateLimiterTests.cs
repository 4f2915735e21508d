using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using Tollgate.RateLimiting;

namespace Tollgate.Tests.RateLimiting;

/// <summary>The in-memory counters on a fake clock: windows, what the headers are made of, and memory.</summary>
public sealed class LocalRequestRateLimiterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Window_OpensAtTheFirstRequest_RefusesPastTheLimit_AndAdmitsAgainWhenItEnds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero));
        await using var limiter = new LocalRequestRateLimiter(time);
        var opened = time.GetUtcNow();

        var first = await limiter.AcquireAsync("key_a", 2, Ct);
        time.Advance(TimeSpan.FromSeconds(20));
        var second = await limiter.AcquireAsync("key_a", 2, Ct);
        var third = await limiter.AcquireAsync("key_a", 2, Ct);
        var otherKey = await limiter.AcquireAsync("key_b", 2, Ct);
        time.Advance(TimeSpan.FromSeconds(40));
        var next = await limiter.AcquireAsync("key_a", 2, Ct);

        Assert.Equal(new RateLimitDecision(true, 2, 1, opened.AddMinutes(1)), first);
        Assert.Equal(new RateLimitDecision(true, 2, 0, opened.AddMinutes(1)), second);
        Assert.Equal(new RateLimitDecision(false, 2, 0, opened.AddMinutes(1)), third);
        Assert.Equal(new RateLimitDecision(true, 2, 1, opened.AddSeconds(80)), otherKey);
        Assert.Equal(new RateLimitDecision(true, 2, 1, opened.AddMinutes(2)), next);
    }

    [Fact]
    public void RefusedLease_SaysWhenToRetry()
    {
        var time = new FakeTimeProvider();
        using var limiter = new KeyWindowLimiter(1, TimeSpan.FromMinutes(1), time);
        using var admitted = limiter.AttemptAcquire();
        time.Advance(TimeSpan.FromSeconds(45));

        using var refused = limiter.AttemptAcquire();

        Assert.True(admitted.IsAcquired);
        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(15), retryAfter);
        Assert.Null(limiter.IdleDuration);
        time.Advance(TimeSpan.FromSeconds(25));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.IdleDuration);
    }

    [Fact]
    public async Task Partitions_OfKeysAndLimitsNoLongerUsed_AreDropped()
    {
        // A client cycling through keys, or a key changing its limit again and again, leaves nothing behind.
        var time = new FakeTimeProvider();
        await using var limiter = new LocalRequestRateLimiter(time);
        for (var i = 0; i < 1000; i++)
        {
            await limiter.AcquireAsync($"key_{i % 100}", 1 + i / 100, Ct);
        }

        var held = limiter.LivePartitions;
        time.Advance(TimeSpan.FromSeconds(75)); // the window's minute, then the partitioned limiter's 10 s of idleness
        for (var i = 0; i < 100 && limiter.LivePartitions > 0; i++)
        {
            await Task.Delay(20, Ct); // it looks every 100 ms of real time
        }

        Assert.Equal(1000, held);
        Assert.Equal(0, limiter.LivePartitions);
    }
}
