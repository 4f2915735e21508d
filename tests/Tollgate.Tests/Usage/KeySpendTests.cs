using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Usage;

/// <summary><c>GET /api/v1/key</c> and the spend in Key objects, on a fixed clock (Wednesday 13 May 2026).</summary>
public sealed class KeySpendTests(FixedClockTollgateFactory factory) : IClassFixture<FixedClockTollgateFactory>
{
    private static readonly string[] CurrentKeyFields =
    [
        "expires_at", "is_free_tier", "label", "limit", "limit_remaining", "limit_reset", "rate_limit", "usage", "usage_daily",
        "usage_monthly", "usage_weekly",
    ];

    private static readonly DateTimeOffset Now = FixedClockTollgateFactory.Now;

    /// <summary>0.01 today, 0.02 on Monday (this week), 0.04 on Sunday (last week, this month), 0.08 on 30 April.</summary>
    private Task ChargeEveryPeriodAsync(ApiKey key) => factory.WriteUsageAsync(
        UsageTestData.Record(key, Now.AddHours(-2), 0.01m),
        UsageTestData.Record(key, new DateTimeOffset(2026, 5, 11, 0, 0, 0, TimeSpan.Zero), 0.02m),
        UsageTestData.Record(key, new DateTimeOffset(2026, 5, 10, 23, 59, 59, TimeSpan.Zero), 0.04m),
        UsageTestData.Record(key, new DateTimeOffset(2026, 4, 30, 23, 59, 59, TimeSpan.Zero), 0.08m));

    private async Task<JsonElement> GetKeyAsync(string secret)
    {
        using var client = factory.Client(secret);
        using var response = await client.GetAsync("/api/v1/key", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.ReadAsync()).GetProperty("data");
    }

    [Fact]
    public async Task GetKey_FreshKeyWithOnlyInferenceScope_ReturnsTheOpenRouterShape()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id,
            """{"name":"ci","scopes":["inference"],"rate_limit":{"requests_per_minute":30},"expires_at":"2099-01-01T00:00:00Z"}""");

        using var client = factory.Client(secret);
        using var response = await client.GetAsync("/api/v1/key", TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["data"], body.PropertyNames());
        var data = body.GetProperty("data");
        Assert.Equal(CurrentKeyFields, data.PropertyNames());
        Assert.Equal(ApiKeySecret.Label(secret), data.GetProperty("label").GetString());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("limit").ValueKind);
        Assert.Equal(JsonValueKind.Null, data.GetProperty("limit_remaining").ValueKind);
        Assert.Equal(JsonValueKind.Null, data.GetProperty("limit_reset").ValueKind);
        foreach (var field in new[] { "usage", "usage_daily", "usage_weekly", "usage_monthly" })
        {
            Assert.Equal(JsonValueKind.Number, data.GetProperty(field).ValueKind);
            Assert.Equal(0m, data.GetProperty(field).GetDecimal());
        }

        Assert.False(data.GetProperty("is_free_tier").GetBoolean());
        Assert.Equal(30, data.GetProperty("rate_limit").GetProperty("requests_per_minute").GetInt32());
        Assert.Equal("2099-01-01T00:00:00Z", data.GetProperty("expires_at").GetString());
        Assert.DoesNotContain(secret, body.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetKey_WithoutAValidKey_Answers401()
    {
        using var anonymous = factory.Client();
        using var missing = await anonymous.GetAsync("/api/v1/key", TestContext.Current.CancellationToken);
        using var invalid = factory.Client("sk-tg-v1-not-a-real-key");
        using var refused = await invalid.GetAsync("/api/v1/key", TestContext.Current.CancellationToken);

        var error = await missing.AssertErrorAsync(HttpStatusCode.Unauthorized);
        Assert.StartsWith("Missing API key", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("""{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""",
            await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task GetKey_ChargesInEachPeriod_SplitIntoDailyWeeklyMonthlyAndAllTime()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        var (other, _) = await factory.CreateKeyAsync(account.Id, """{"name":"other"}""");
        await ChargeEveryPeriodAsync(key);
        await factory.WriteUsageAsync(UsageTestData.Record(other, Now, 5m)); // another key's spend is not this key's

        var data = await GetKeyAsync(secret);

        Assert.Equal(0.15m, data.GetProperty("usage").GetDecimal());
        Assert.Equal(0.01m, data.GetProperty("usage_daily").GetDecimal());
        Assert.Equal(0.03m, data.GetProperty("usage_weekly").GetDecimal());
        Assert.Equal(0.07m, data.GetProperty("usage_monthly").GetDecimal());
    }

    [Theory]
    [InlineData("null", "1", "0.85")]
    [InlineData("\"daily\"", "0.05", "0.04")]
    [InlineData("\"weekly\"", "0.05", "0.02")]
    [InlineData("\"monthly\"", "0.05", "0")]
    public async Task GetKey_LimitWithReset_RemainingCountsOnlyTheResetPeriodAndNeverGoesNegative(string reset, string limit, string remaining)
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id, $$"""{"name":"limited","limit":{{limit}},"limit_reset":{{reset}}}""");
        await ChargeEveryPeriodAsync(key);

        var data = await GetKeyAsync(secret);

        Assert.Equal(decimal.Parse(limit, System.Globalization.CultureInfo.InvariantCulture), data.GetProperty("limit").GetDecimal());
        Assert.Equal(decimal.Parse(remaining, System.Globalization.CultureInfo.InvariantCulture), data.GetProperty("limit_remaining").GetDecimal());
    }

    [Fact]
    public async Task KeyObjects_InListGetPatchAndRotate_ShowRealSpendAndLimitRemaining()
    {
        var account = await factory.CreateAccountAsync();
        var (admin, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"admin"}""");
        var (limited, _) = await factory.CreateKeyAsync(account.Id, """{"name":"limited","limit":0.1,"limit_reset":"weekly"}""");
        var (idle, _) = await factory.CreateKeyAsync(account.Id, """{"name":"idle","limit":2}""");
        await ChargeEveryPeriodAsync(limited);
        await factory.WriteUsageAsync(UsageTestData.Record(admin, Now, 0.5m));
        using var client = factory.Client(secret);
        var ct = TestContext.Current.CancellationToken;

        using var list = await client.GetAsync("/api/v1/api-keys", ct);
        using var get = await client.GetAsync($"/api/v1/api-keys/{limited.Id}", ct);
        using var patch = await client.PatchAsync($"/api/v1/api-keys/{limited.Id}", Json.Body("""{"name":"renamed"}"""), ct);
        using var rotate = await client.PostAsync($"/api/v1/api-keys/{limited.Id}/rotate", null, ct);

        var keys = (await list.ReadAsync()).GetProperty("data").EnumerateArray().ToDictionary(k => k.GetProperty("id").GetString()!);
        AssertSpend(keys[admin.Id], 0.5m, 0.5m, 0.5m, 0.5m, limitRemaining: null);
        AssertSpend(keys[idle.Id], 0m, 0m, 0m, 0m, limitRemaining: 2m);
        foreach (var limitedKey in new[]
                 {
                     keys[limited.Id], (await get.ReadAsync()).GetProperty("data"), (await patch.ReadAsync()).GetProperty("data"),
                     (await rotate.ReadAsync()).GetProperty("data"),
                 })
        {
            AssertSpend(limitedKey, 0.15m, 0.01m, 0.03m, 0.07m, limitRemaining: 0.07m);
        }
    }

    [Fact]
    public async Task Create_NewKey_ShowsNoSpendAndTheWholeLimitRemaining()
    {
        var account = await factory.CreateAccountAsync();
        var (admin, secret) = await factory.CreateKeyAsync(account.Id);
        await factory.WriteUsageAsync(UsageTestData.Record(admin, Now, 0.5m));
        using var client = factory.Client(secret);

        using var created = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"new","limit":3}"""), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        AssertSpend((await created.ReadAsync()).GetProperty("data"), 0m, 0m, 0m, 0m, limitRemaining: 3m);
    }

    private static void AssertSpend(JsonElement key, decimal usage, decimal daily, decimal weekly, decimal monthly, decimal? limitRemaining)
    {
        Assert.Equal(usage, key.GetProperty("usage").GetDecimal());
        Assert.Equal(daily, key.GetProperty("usage_daily").GetDecimal());
        Assert.Equal(weekly, key.GetProperty("usage_weekly").GetDecimal());
        Assert.Equal(monthly, key.GetProperty("usage_monthly").GetDecimal());
        if (limitRemaining is null)
        {
            Assert.Equal(JsonValueKind.Null, key.GetProperty("limit_remaining").ValueKind);
        }
        else
        {
            Assert.Equal(limitRemaining.Value, key.GetProperty("limit_remaining").GetDecimal());
        }
    }
}

/// <summary>Period boundaries: on Monday 1 June 2026 a new day, week and month all begin at midnight UTC.</summary>
public sealed class KeySpendBoundaryTests
{
    [Fact]
    public async Task GetKey_OnMondayTheFirst_ChargeOneMillisecondBeforeMidnightCountsOnlyAllTime()
    {
        var midnight = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
        using var factory = new TollgateFactory([], new FakeTimeProvider(midnight.AddMinutes(30)));
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"limited","limit":1,"limit_reset":"monthly"}""");
        await factory.WriteUsageAsync(
            UsageTestData.Record(key, midnight.AddMilliseconds(-1), 0.25m),
            UsageTestData.Record(key, midnight, 0.5m));
        using var client = factory.Client(secret);

        using var response = await client.GetAsync("/api/v1/key", TestContext.Current.CancellationToken);
        var data = (await response.ReadAsync()).GetProperty("data");

        Assert.Equal(0.75m, data.GetProperty("usage").GetDecimal());
        Assert.Equal(0.5m, data.GetProperty("usage_daily").GetDecimal());
        Assert.Equal(0.5m, data.GetProperty("usage_weekly").GetDecimal());
        Assert.Equal(0.5m, data.GetProperty("usage_monthly").GetDecimal());
        Assert.Equal(0.5m, data.GetProperty("limit_remaining").GetDecimal());
    }
}

/// <summary>On the real clock: whatever day the suite runs, yesterday's charge lands in the right periods.</summary>
public sealed class KeySpendRealClockTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    [Fact]
    public async Task GetKey_ChargeYesterday_CountsInWeekAndMonthOnlyWhenTheyContainYesterdayNeverInToday()
    {
        var now = DateTimeOffset.UtcNow;
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var yesterday = today.AddDays(-1);
        var monday = today.AddDays(-(((int)today.DayOfWeek + 6) % 7));
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        await factory.WriteUsageAsync(UsageTestData.Record(key, new DateTimeOffset(yesterday.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero), 0.2m));
        using var client = factory.Client(secret);

        using var response = await client.GetAsync("/api/v1/key", TestContext.Current.CancellationToken);
        var data = (await response.ReadAsync()).GetProperty("data");

        Assert.Equal(0.2m, data.GetProperty("usage").GetDecimal());
        Assert.Equal(0m, data.GetProperty("usage_daily").GetDecimal());
        Assert.Equal(yesterday >= monday ? 0.2m : 0m, data.GetProperty("usage_weekly").GetDecimal());
        Assert.Equal(yesterday.Month == today.Month ? 0.2m : 0m, data.GetProperty("usage_monthly").GetDecimal());
    }
}
