using System.Net;
using Tollgate.Tests.Infrastructure;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>Tollgate with <c>local/free</c>, a model without a Pricing section, beside the priced demo model.</summary>
public sealed class UnpricedModelFactory() : TollgateFactory(new Dictionary<string, string?>
{
    ["Tollgate:Models:0:Id"] = "local/free",
    ["Tollgate:Models:0:Deployments:0:Provider"] = "demo",
    ["Tollgate:Models:0:Deployments:0:Model"] = "echo",
});

/// <summary>"Unknown is not zero": a call to a model without prices is recorded as unpriced, and every read side says so.</summary>
public sealed class UnpricedCallsTests(UnpricedModelFactory factory) : IClassFixture<UnpricedModelFactory>
{
    private static async Task<string> ChatAsync(HttpClient client, string model)
    {
        using var response = await client.PostAsync("/api/v1/chat/completions",
            Json.Body($$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hello there"}]}"""), TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.GetRawText());
        return body.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task Chat_ToAnUnpricedModel_IsRecordedAsUnpricedAndCountedAsSuch()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);
        var unpriced = await ChatAsync(client, "local/free");
        var priced = await ChatAsync(client, "demo/echo");
        var service = factory.Service<UsageService>();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);

        var calls = await service.GetCallsAsync(account.Id, new UsageCallFilter(), null, 10, CancellationToken.None);
        var series = await service.GetSeriesAsync(account.Id, today.AddDays(-1), today.AddDays(1), TimeZoneInfo.Utc, UsageSeriesGrouping.Model,
            CancellationToken.None);
        using var usage = await client.GetAsync("/api/v1/usage?group_by=model&from=" + today.AddDays(-1).ToString("yyyy-MM-dd", null) + "&to=" +
            today.AddDays(1).ToString("yyyy-MM-dd", null), TestContext.Current.CancellationToken);

        var byId = calls.Calls.ToDictionary(c => c.Record.GenerationId, c => c.Record);
        Assert.True(byId[unpriced].Unpriced);
        Assert.Equal(0, byId[unpriced].CostNanos);
        Assert.False(byId[priced].Unpriced);
        Assert.True(byId[priced].CostNanos > 0);
        var free = Assert.Single(series.Groups, g => g.Id == "local/free");
        Assert.True(free.Totals.IsUnpriced);
        Assert.False(Assert.Single(series.Groups, g => g.Id == "demo/echo").Totals.HasUnpriced);
        Assert.Equal(1, series.Totals.UnpricedRequests);
        var rows = (await usage.ReadAsync()).GetProperty("data").EnumerateArray()
            .ToDictionary(r => r.GetProperty("model").GetString()!, r => r.GetProperty("unpriced_requests").GetInt64());
        Assert.Equal(1, rows["local/free"]);
        Assert.Equal(0, rows["demo/echo"]);
    }
}
