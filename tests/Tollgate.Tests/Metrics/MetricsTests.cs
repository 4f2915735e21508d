using System.Net;
using System.Text.Json;
using Tollgate.Credits;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Metrics;

/// <summary>
/// <c>GET /metrics</c> after real chat calls. Each test gets its own Tollgate, and each Tollgate its
/// own registry, so the counts are exact even with other tests running in the same process.
/// </summary>
public sealed class MetricsTests
{
    private const string Requests = "tollgate_chat_requests_total";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Chat(string model, bool stream = false, int maxTokens = 100) => Json.Body(
        $$"""{"model":"{{model}}","max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hello metrics"}]}""");

    private static (string, string)[] RequestLabels(string model, string provider, int status, bool streamed) =>
        [("model", model), ("provider", provider), ("status", status.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("streamed", streamed ? "true" : "false")];

    [Fact]
    public async Task Scrape_AfterAnswersAndRefusals_CountsEachRequestOnceByModelProviderAndStatus()
    {
        await using var stack = await Stack.StartAsync();
        var rich = await stack.SecretAsync(1m);
        var poor = await stack.SecretAsync(0m);
        var restricted = await stack.SecretAsync(1m, """{"name":"only-gpt","models":["fake/gpt"]}""");
        using var client = stack.Tollgate.Client(rich);

        for (var i = 0; i < 2; i++)
        {
            using var answered = await client.PostAsync("/api/v1/chat/completions", Chat("demo/echo"), Ct);
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }

        using (var unknown = await client.PostAsync("/api/v1/chat/completions", Chat("nope/client-typed-this"), Ct))
        {
            await unknown.AssertErrorAsync(HttpStatusCode.NotFound);
        }

        using (var invalid = await client.PostAsync("/api/v1/chat/completions", Json.Body("""{"model":"demo/echo"}"""), Ct))
        {
            await invalid.AssertErrorAsync(HttpStatusCode.BadRequest);
        }

        using (var broke = stack.Tollgate.Client(poor))
        using (var refused = await broke.PostAsync("/api/v1/chat/completions", Chat("demo/echo"), Ct))
        {
            await refused.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        }

        using (var limited = stack.Tollgate.Client(restricted))
        using (var forbidden = await limited.PostAsync("/api/v1/chat/completions", Chat("demo/echo"), Ct))
        {
            await forbidden.AssertErrorAsync(HttpStatusCode.Forbidden);
        }

        // Not chat requests past authentication: none of these may count.
        using (var stranger = stack.Tollgate.Client("sk-tg-v1-not-a-real-key"))
        using (var unauthorized = await stranger.PostAsync("/api/v1/chat/completions", Chat("demo/echo"), Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        }

        (await client.GetAsync("/healthz", Ct)).Dispose();
        (await client.GetAsync("/readyz", Ct)).Dispose();
        (await client.GetAsync("/api/v1/models", Ct)).Dispose();
        await stack.ScrapeAsync();

        var scrape = await stack.ScrapeAsync();

        Assert.Equal(2, scrape.Value(Requests, RequestLabels("demo/echo", "demo", 200, false)));
        Assert.Equal(1, scrape.Value(Requests, RequestLabels("unknown", "none", 404, false)));
        Assert.Equal(1, scrape.Value(Requests, RequestLabels("unknown", "none", 400, false)));
        Assert.Equal(1, scrape.Value(Requests, RequestLabels("demo/echo", "none", 402, false)));
        Assert.Equal(1, scrape.Value(Requests, RequestLabels("demo/echo", "none", 403, false)));
        Assert.Equal(6, scrape.All(Requests).Sum(s => s.Value));
        Assert.Equal(6, scrape.Value("tollgate_added_latency_seconds_count", ("streamed", "false")));
        Assert.Equal(0, scrape.Value("tollgate_added_latency_seconds_count", ("streamed", "true")));
        Assert.Equal(2, scrape.Value("tollgate_upstream_seconds_count", ("model", "demo/echo"), ("provider", "demo")));
        Assert.DoesNotContain("client-typed-this", scrape.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(rich, scrape.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(poor, scrape.Text, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", scrape.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_IsAnonymousPrometheusText()
    {
        await using var stack = await Stack.StartAsync();
        using var client = stack.Tollgate.Client();

        using var response = await client.GetAsync("/metrics", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE tollgate_chat_requests_total counter", body, StringComparison.Ordinal);
        Assert.Contains("# TYPE tollgate_added_latency_seconds histogram", body, StringComparison.Ordinal);
        Assert.Contains("tollgate_added_latency_seconds_bucket{streamed=\"false\",le=\"2.5e-05\"} 0", body, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayFixture.UpstreamKey, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_AfterAStream_HasOneTimeToFirstTokenObservation()
    {
        await using var stack = await Stack.StartAsync();
        using var client = stack.Tollgate.Client(await stack.SecretAsync(1m));

        using (var streamed = await client.PostAsync("/api/v1/chat/completions", Chat("demo/echo", stream: true), Ct))
        {
            Assert.True((await SseAnswer.ReadAsync(streamed, Ct)).EndsWithDone);
        }

        using (var whole = await client.PostAsync("/api/v1/chat/completions", Chat("demo/echo"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        }

        var scrape = await stack.ScrapeAsync();

        Assert.Equal(1, scrape.Value("tollgate_time_to_first_token_seconds_count", ("model", "demo/echo"), ("provider", "demo")));
        Assert.True(scrape.Value("tollgate_time_to_first_token_seconds_sum", ("model", "demo/echo"), ("provider", "demo")) > 0);
        Assert.Equal(1, scrape.Value(Requests, RequestLabels("demo/echo", "demo", 200, true)));
        Assert.Equal(1, scrape.Value(Requests, RequestLabels("demo/echo", "demo", 200, false)));
        Assert.Equal(1, scrape.Value("tollgate_added_latency_seconds_count", ("streamed", "true")));
        Assert.Equal(1, scrape.Value("tollgate_added_latency_seconds_count", ("streamed", "false")));
        Assert.Equal(2, scrape.Value("tollgate_upstream_seconds_count", ("model", "demo/echo"), ("provider", "demo")));
    }

    [Fact]
    public async Task Scrape_TokensAndCost_MatchTheUsageEachAnswerReported()
    {
        await using var stack = await Stack.StartAsync();
        stack.Fake.Options.Scenarios["cached"] = new Scenario { CachedTokens = 3 };
        var secret = await stack.SecretAsync(1m);
        using var client = stack.Tollgate.Client(secret);

        using var cachedResponse = await client.PostAsync("/api/v1/chat/completions", Chat("fake/cached"), Ct);
        var cached = (await cachedResponse.ReadAsync()).GetProperty("usage");
        using var streamedResponse = await client.PostAsync("/api/v1/chat/completions", Chat("fake/gpt", stream: true), Ct);
        var streamed = (await SseAnswer.ReadAsync(streamedResponse, Ct)).Chunks[^1].GetProperty("usage");
        var scrape = await stack.ScrapeAsync();

        foreach (var (model, usage) in new[] { ("fake/cached", cached), ("fake/gpt", streamed) })
        {
            (string, string)[] Tokens(string kind) => [("model", model), ("provider", "fakeai"), ("kind", kind)];
            Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32(), scrape.Value("tollgate_tokens_total", Tokens("prompt")));
            Assert.Equal(usage.GetProperty("completion_tokens").GetInt32(), scrape.Value("tollgate_tokens_total", Tokens("completion")));
            Assert.Equal(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), scrape.Value("tollgate_tokens_total", Tokens("cached")));
            Assert.Equal((double)usage.GetProperty("cost").GetDecimal(), scrape.Value("tollgate_cost_usd_total", ("model", model), ("provider", "fakeai")), 12);
        }

        Assert.Equal(3, scrape.Value("tollgate_tokens_total", ("model", "fake/cached"), ("provider", "fakeai"), ("kind", "cached")));
        Assert.True(scrape.Value("tollgate_cost_usd_total", ("model", "fake/gpt"), ("provider", "fakeai")) > 0);
        Assert.DoesNotContain(secret, scrape.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayFixture.UpstreamKey, scrape.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Scrape_AfterAnUpstreamFailure_CountsItsStatusAndProviderWithoutCharge(bool stream)
    {
        await using var stack = await Stack.StartAsync();
        stack.Fake.Options.Scenarios["always500"] = new Scenario { Fault = Fault.Status500 };
        using var client = stack.Tollgate.Client(await stack.SecretAsync(1m));

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/always500", stream), Ct);
        await response.Content.ReadAsStringAsync(Ct);
        var scrape = await stack.ScrapeAsync();

        Assert.Equal(1, scrape.Value(Requests, RequestLabels("fake/always500", "fakeai", 502, stream)));
        Assert.Equal(1, scrape.Value("tollgate_upstream_seconds_count", ("model", "fake/always500"), ("provider", "fakeai")));
        Assert.Equal(0, scrape.Value("tollgate_tokens_total", ("model", "fake/always500"), ("provider", "fakeai"), ("kind", "completion")));
        Assert.Equal(0, scrape.Value("tollgate_time_to_first_token_seconds_count", ("model", "fake/always500"), ("provider", "fakeai")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Scrape_AfterTheClientLeftBeforeTheAnswer_Counts499(bool stream)
    {
        await using var stack = await Stack.StartAsync();
        stack.Fake.Options.Scenarios["hang"] = new Scenario { Fault = Fault.Hang };
        using var client = stack.Tollgate.Client(await stack.SecretAsync(1m));
        using (var leave = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions") { Content = Chat("fake/hang", stream) };
            var pending = client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leave.Token);
            await WaitUntilAsync(() => stack.Fake.Requests.Any(r => r.Model == "hang"));
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                using var response = await pending;
                await response.Content.ReadAsStringAsync(leave.Token);
            });
        }

        // The server notices the departure on its own schedule: poll until the request is recorded.
        Scrape? scrape = null;
        await WaitUntilAsync(async () => (scrape = await stack.ScrapeAsync()).All(Requests).Count > 0);

        Assert.Equal(1, scrape!.Value(Requests, RequestLabels("fake/hang", "none", 499, stream)));
        Assert.Equal(1, scrape.All(Requests).Sum(s => s.Value));
    }

    [Fact]
    public async Task Metrics_Disabled_Answers404AndChatStillWorks()
    {
        await using var stack = await Stack.StartAsync(new() { ["Tollgate:Metrics:Enabled"] = "false" });
        using var client = stack.Tollgate.Client(await stack.SecretAsync(1m));

        using var chat = await client.PostAsync("/api/v1/chat/completions", Chat("demo/echo"), Ct);
        using var metrics = await client.GetAsync("/metrics", Ct);

        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        await metrics.AssertErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Metrics_OnAnotherPath_IsServedThereOnly()
    {
        await using var stack = await Stack.StartAsync(new() { ["Tollgate:Metrics:Path"] = "/internal/prometheus" });
        using var client = stack.Tollgate.Client();

        using var moved = await client.GetAsync("/internal/prometheus", Ct);
        using var old = await client.GetAsync("/metrics", Ct);

        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Contains("tollgate_chat_requests_total", await moved.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
    }

    [Theory]
    [InlineData("metrics")]
    [InlineData("/")]
    [InlineData("/api/v1/metrics")]
    [InlineData("/healthz")]
    [InlineData("/metrics?x=1")]
    [InlineData("/me trics")]
    public void Settings_BadPath_IsRefusedNamingTheSetting(string path)
    {
        var errors = new Tollgate.Metrics.MetricsOptions { Path = path }.Validate().ToArray();

        Assert.Single(errors);
        Assert.StartsWith("Tollgate:Metrics:Path ", errors[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/internal/prometheus")]
    [InlineData("/ops/metrics.txt")]
    public void Settings_GoodPath_IsAccepted(string path) =>
        Assert.Empty(new Tollgate.Metrics.MetricsOptions { Path = path }.Validate());

    private static async Task WaitUntilAsync(Func<bool> condition) => await WaitUntilAsync(() => Task.FromResult(condition()));

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200 && !await condition(); i++)
        {
            await Task.Delay(50, Ct);
        }

        Assert.True(await condition(), "the condition did not become true within 10 s");
    }

    /// <summary>The fake upstream and a Tollgate of its own whose accounts start with nothing.</summary>
    private sealed class Stack : IAsyncDisposable
    {
        private Stack(FakeUpstreamServer fake, TollgateFactory tollgate)
        {
            Fake = fake;
            Tollgate = tollgate;
        }

        internal FakeUpstreamServer Fake { get; }

        public TollgateFactory Tollgate { get; }

        public static async Task<Stack> StartAsync(Dictionary<string, string?>? settings = null)
        {
            var fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
            var root = fake.BaseAddress.ToString().TrimEnd('/');
            var all = new Dictionary<string, string?>
            {
                ["Tollgate:Credits:InitialCredits"] = "0",
                ["Tollgate:Gateway:MaxAttemptsPerModel"] = "1",
                ["Tollgate:Providers:fakeai:Type"] = "openai",
                ["Tollgate:Providers:fakeai:BaseUrl"] = root + "/v1",
                ["Tollgate:Providers:fakeai:ApiKey"] = GatewayFixture.UpstreamKey,
            };
            string[] upstreamModels = ["gpt", "cached", "always500", "hang"];
            for (var i = 0; i < upstreamModels.Length; i++)
            {
                all[$"Tollgate:Models:{i}:Id"] = "fake/" + upstreamModels[i];
                all[$"Tollgate:Models:{i}:MaxCompletionTokens"] = "1000";
                all[$"Tollgate:Models:{i}:Pricing:Prompt"] = "0.000002";
                all[$"Tollgate:Models:{i}:Pricing:Completion"] = "0.00001";
                all[$"Tollgate:Models:{i}:Pricing:InputCacheRead"] = "0.0000005";
                all[$"Tollgate:Models:{i}:Deployments:0:Provider"] = "fakeai";
                all[$"Tollgate:Models:{i}:Deployments:0:Model"] = upstreamModels[i];
            }

            foreach (var (key, value) in settings ?? [])
            {
                all[key] = value;
            }

            var tollgate = new TollgateFactory(all);
            tollgate.StartServer();
            return new Stack(fake, tollgate);
        }

        /// <summary>A key for a new account holding <paramref name="usd"/>.</summary>
        public async Task<string> SecretAsync(decimal usd, string keyJson = """{"name":"metrics"}""")
        {
            var account = await Tollgate.CreateAccountAsync();
            if (usd != 0)
            {
                await Tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(usd), "test", null, null, CancellationToken.None);
            }

            return (await Tollgate.CreateKeyAsync(account.Id, keyJson)).Secret;
        }

        public async Task<Scrape> ScrapeAsync()
        {
            using var client = Tollgate.Client();
            using var response = await client.GetAsync("/metrics", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return new Scrape(await response.Content.ReadAsStringAsync(Ct));
        }

        public async ValueTask DisposeAsync()
        {
            await Tollgate.DisposeAsync();
            await Fake.DisposeAsync();
        }
    }
}
