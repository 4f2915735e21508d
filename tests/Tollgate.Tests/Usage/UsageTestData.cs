using Microsoft.Extensions.Time.Testing;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Usage;

/// <summary>Usage written through the real write path (<see cref="IBillingStore.WriteUsageAsync"/>: record, rollup, charge).</summary>
internal static class UsageTestData
{
    public static UsageRecord Record(ApiKey key, DateTimeOffset at, decimal costUsd, string model = "demo/echo", int prompt = 10,
        int completion = 20) => new()
    {
        GenerationId = "gen-" + Guid.NewGuid().ToString("N"),
        AccountId = key.AccountId,
        KeyId = key.Id,
        Model = model,
        Provider = "demo",
        PromptTokens = prompt,
        CompletionTokens = completion,
        CostNanos = Money.ToNanos(costUsd),
        Status = 200,
        LatencyMs = 100,
        CreatedAt = at,
    };

    public static Task WriteUsageAsync(this TollgateFactory factory, params UsageRecord[] records) =>
        factory.Service<IBillingStore>().WriteUsageAsync(records, CancellationToken.None);
}

/// <summary>
/// Tollgate on a clock stopped at Wednesday 13 May 2026, 12:00 UTC: the week began on Monday the
/// 11th and the month on the 1st, so period and range expectations are fixed.
/// </summary>
public sealed class FixedClockTollgateFactory() : TollgateFactory([], new FakeTimeProvider(Now))
{
    public static readonly DateTimeOffset Now = new(2026, 5, 13, 12, 0, 0, TimeSpan.Zero);
}
