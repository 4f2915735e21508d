using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Gateway;

/// <summary>A five-minute stream with a chunk every ten seconds: no timeout of Tollgate's, Kestrel's, HttpClient's or Polly's may cut it.</summary>
public sealed class LongStreamTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task ThreeHundredSecondStream_ChunkEveryTenSeconds_ArrivesWhole()
    {
        gateway.Upstream.Scenarios["long"] = new Scenario { Chunks = 30, ChunkGap = TimeSpan.FromSeconds(10) };
        using var client = gateway.Tollgate.Client(await gateway.SecretAsync());
        client.Timeout = TimeSpan.FromMinutes(7);
        var started = DateTime.UtcNow;

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"fake/long","stream":true,"messages":[{"role":"user","content":"take your time"}]}"""), TestContext.Current.CancellationToken);
        var answer = await SseAnswer.ReadAsync(response, TestContext.Current.CancellationToken);

        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(290));
        Assert.True(answer.EndsWithDone);
        Assert.Equal(string.Join(' ', Enumerable.Range(1, 30).Select(i => $"w{i}")), answer.Text);
    }
}
