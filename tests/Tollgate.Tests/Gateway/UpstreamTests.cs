using System.Net;
using System.Text.Json;
using OpenAI.Chat;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Gateway;

/// <summary>Chat completions through real HTTP upstreams: the fake speaking OpenAI's and Anthropic's formats.</summary>
public sealed class UpstreamTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void Scenario(string upstreamModel, Scenario scenario) => gateway.Upstream.Scenarios[upstreamModel] = scenario;

    private async Task<HttpClient> ClientAsync() => gateway.Tollgate.Client(await gateway.SecretAsync());

    private static StringContent Chat(string model, bool stream = false, string extra = "") => Json.Body(
        $$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}]{{extra}}}""");

    [Theory]
    [InlineData("fake/gpt", "gpt-fake")]
    [InlineData("fake/claude", "claude-fake")]
    public async Task OpenAiSdk_PlainAndStreamed_AnswerWithTollgateIdsAndUsage(string model, string upstreamModel)
    {
        var chat = gateway.Tollgate.OpenAiChat(await gateway.SecretAsync(), model);
        List<ChatMessage> messages = [new SystemChatMessage("be brief"), new UserChatMessage("hello there")];
        var before = gateway.RequestsFor(upstreamModel).Count;

        ChatCompletion plain = await chat.CompleteChatAsync(messages, cancellationToken: Ct);
        var streamed = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, cancellationToken: Ct))
        {
            Assert.Equal(model, update.Model);
            Assert.StartsWith("gen-", update.CompletionId, StringComparison.Ordinal);
            streamed.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
            usage = update.Usage ?? usage;
        }

        Assert.Equal("w1 w2 w3 w4 w5 w6 w7 w8", plain.Content[0].Text);
        Assert.Equal(model, plain.Model);
        Assert.StartsWith("gen-", plain.Id, StringComparison.Ordinal);
        Assert.Equal(ChatFinishReason.Stop, plain.FinishReason);
        Assert.Equal(8, plain.Usage.OutputTokenCount);
        Assert.Equal("w1 w2 w3 w4 w5 w6 w7 w8", streamed.ToString());
        Assert.Equal(8, usage?.OutputTokenCount);
        Assert.Equal(before + 2, gateway.RequestsFor(upstreamModel).Count);
    }

    [Fact]
    public async Task OpenAiUpstream_GetsTheRewrittenBodyAndTheConfiguredCredential()
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/gpt", stream: true,
            extra: ""","temperature":0.25,"models":["fake/claude"],"provider":{"allow_fallbacks":true},"custom_field":{"kept":1}"""), Ct);
        await SseAnswer.ReadAsync(response, Ct);

        var received = gateway.RequestsFor("gpt-fake")[^1];
        using var body = JsonDocument.Parse(received.Body);
        Assert.Equal("/v1/chat/completions", received.Path);
        Assert.Equal("Bearer " + GatewayFixture.UpstreamKey, received.Headers["Authorization"]);
        Assert.True(body.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal(0.25, body.RootElement.GetProperty("temperature").GetDouble());
        Assert.Equal(1, body.RootElement.GetProperty("custom_field").GetProperty("kept").GetInt32());
        Assert.False(body.RootElement.TryGetProperty("models", out _));
        Assert.False(body.RootElement.TryGetProperty("provider", out _));
    }

    [Fact]
    public async Task AnthropicUpstream_GetsATranslatedMessagesRequest()
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/claude"), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = gateway.RequestsFor("claude-fake")[^1];
        using var body = JsonDocument.Parse(received.Body);
        Assert.Equal("/v1/messages", received.Path);
        Assert.Equal(GatewayFixture.UpstreamKey, received.Headers["x-api-key"]);
        Assert.Equal("2023-06-01", received.Headers["anthropic-version"]);
        Assert.Equal("be brief", body.RootElement.GetProperty("system").GetString());
        Assert.Equal(4096, body.RootElement.GetProperty("max_tokens").GetInt32());
        Assert.Equal("user", body.RootElement.GetProperty("messages")[0].GetProperty("role").GetString());
    }

    [Fact]
    public async Task AnthropicUsage_CountsCacheTokensInThePromptAndCharges_TheCachedPrice()
    {
        Scenario("cached-claude", new Scenario { CachedTokens = 100 });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/cached-claude"), Ct);
        var usage = (await response.ReadAsync()).GetProperty("usage");

        var prompt = usage.GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(100, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.True(prompt >= 100);
        var expected = (prompt - 100) * 0.000002m + 100 * 0.0000005m + usage.GetProperty("completion_tokens").GetInt32() * 0.00001m;
        Assert.Equal(expected, usage.GetProperty("cost").GetDecimal());
    }

    [Theory]
    [InlineData("fake/tool-gpt", "tool-gpt")]
    [InlineData("fake/tool-claude", "tool-claude")]
    public async Task OpenAiSdk_ToolCallRoundTrip_WorksWhateverTheUpstreamFormat(string model, string upstreamModel)
    {
        Scenario(upstreamModel, new Scenario { ToolCall = true });
        var chat = gateway.Tollgate.OpenAiChat(await gateway.SecretAsync(), model);
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather", BinaryData.FromString(
            """{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string"}}}""")));
        List<ChatMessage> messages = [new UserChatMessage("weather in Paris?")];

        ChatCompletion first = await chat.CompleteChatAsync(messages, options, Ct);
        var streamedArguments = new System.Text.StringBuilder();
        ChatFinishReason? streamedFinish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options, Ct))
        {
            streamedArguments.Append(string.Concat(update.ToolCallUpdates.Select(t => t.FunctionArgumentsUpdate?.ToString())));
            streamedFinish = update.FinishReason ?? streamedFinish;
        }

        Scenario(upstreamModel, new Scenario());
        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(first.ToolCalls[0].Id, "22 C"));
        ChatCompletion second = await chat.CompleteChatAsync(messages, options, Ct);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        Assert.Equal("get_weather", first.ToolCalls[0].FunctionName);
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", first.ToolCalls[0].FunctionArguments.ToString());
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", streamedArguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, streamedFinish);
        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        var lastBody = gateway.RequestsFor(upstreamModel)[^1].Body;
        Assert.Contains("22 C", lastBody, StringComparison.Ordinal);
        Assert.Contains(first.ToolCalls[0].Id, lastBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamDown_Gets503NamingTheProvider()
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/down"), Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("down", error.GetProperty("metadata").GetProperty("provider_name").GetString());
    }

    [Fact]
    public async Task FirstDeploymentFails_SecondAnswers_AfterOneRetry()
    {
        Scenario("failover-a", new Scenario { Fault = Fault.Status500 });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/failover",
            extra: ""","provider":{"order":["fakeai","fakeai2"]}"""), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("fake/failover", (await response.ReadAsync()).GetProperty("model").GetString());
        Assert.Single(gateway.RequestsFor("failover-a"));
        Assert.Single(gateway.RequestsFor("failover-b"));
    }

    [Fact]
    public async Task RateLimitedOnce_IsRetriedOnTheSameDeployment()
    {
        Scenario("retry429", new Scenario { Fault = Fault.Status429, FailFirst = 1 });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/retry429", stream: true), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);

        Assert.True(answer.EndsWithDone);
        Assert.Equal("w1 w2 w3 w4 w5 w6 w7 w8", answer.Text);
        Assert.Equal(2, gateway.RequestsFor("retry429").Count);
    }

    [Fact]
    public async Task UpstreamRejectsTheRequest_Gets400AndIsNotRetried()
    {
        Scenario("bad400", new Scenario { Fault = Fault.Status400 });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/bad400"), Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Single(gateway.RequestsFor("bad400"));
    }

    [Fact]
    public async Task UpstreamKeepsFailing_Gets502WithRedactedRawBody_AfterEveryAttempt()
    {
        Scenario("always500", new Scenario { Fault = Fault.Status500 });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/always500"), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadGateway);
        Assert.Equal("fakeai", error.GetProperty("metadata").GetProperty("provider_name").GetString());
        Assert.True(error.GetProperty("metadata").GetProperty("raw").GetString()!.Length <= 1024);
        Assert.Equal(3, gateway.RequestsFor("always500").Count);
        Assert.DoesNotContain(GatewayFixture.UpstreamKey, text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fake/cut", "cut")]
    [InlineData("fake/cut-claude", "cut-claude")]
    public async Task UpstreamCutMidStream_EndsWithTheErrorEventAndNoDone(string model, string upstreamModel)
    {
        Scenario(upstreamModel, new Scenario { Fault = Fault.CutMidStream, Chunks = 8 });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat(model, stream: true), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(answer.EndsWithDone);
        Assert.StartsWith("w1 w2", answer.Text, StringComparison.Ordinal);
        var last = answer.Chunks[^1];
        Assert.Equal(502, last.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal("Upstream connection lost", last.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(model, last.GetProperty("model").GetString());
        Assert.Equal(response.Headers.GetValues("X-Generation-Id").Single(), last.GetProperty("id").GetString());
        var choice = last.GetProperty("choices")[0];
        Assert.Equal("error", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("server_error", choice.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task MalformedSseFromUpstream_EndsWithACleanErrorEvent_AndTollgateKeepsServing()
    {
        Scenario("malformed", new Scenario { Fault = Fault.MalformedSse });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/malformed", stream: true), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);
        using var next = await client.PostAsync("/api/v1/chat/completions", Chat("fake/gpt"), Ct);

        Assert.False(answer.EndsWithDone);
        var error = answer.Chunks[^1].GetProperty("error");
        Assert.Equal(502, error.GetProperty("code").GetInt32());
        Assert.Contains("malformed", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task FiveMegabyteChunk_PassesThroughWhole()
    {
        Scenario("huge", new Scenario { Fault = Fault.HugeChunk, Chunks = 3 });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/huge", stream: true), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);

        Assert.True(answer.EndsWithDone);
        Assert.True(answer.Text.Length >= 5 * 1024 * 1024, $"got {answer.Text.Length} characters");
        Assert.EndsWith(" w2 w3", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientDisconnectMidStream_CancelsTheUpstreamRequest()
    {
        Scenario("slow", new Scenario { Chunks = 200, ChunkGap = TimeSpan.FromMilliseconds(50) });
        var before = gateway.Fake.CancelledRequests;
        using var client = await ClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions") { Content = Chat("fake/slow", stream: true) };

        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
            var dataLines = 0;
            while (dataLines < 3 && await reader.ReadLineAsync(Ct) is { } line)
            {
                dataLines += line.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
            }
        } // the client goes away here, 3 chunks in

        await gateway.Fake.WaitForCancelledAsync(before + 1, TimeSpan.FromSeconds(10), Ct);
        Assert.True(gateway.RequestsFor("slow").Count == 1);
    }

    [Fact]
    public async Task ClientDisconnectBeforeTheFirstByte_CancelsTheUpstreamRequest()
    {
        Scenario("hang", new Scenario { Fault = Fault.Hang });
        var before = gateway.Fake.CancelledRequests;
        using var client = await ClientAsync();
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        giveUp.CancelAfter(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PostAsync("/api/v1/chat/completions", Chat("fake/hang", stream: true), giveUp.Token));

        await gateway.Fake.WaitForCancelledAsync(before + 1, TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task SlowFirstByte_SendsKeepAliveCommentsUntilTheAnswerStarts()
    {
        Scenario("late", new Scenario { FirstByteDelay = TimeSpan.FromMilliseconds(1100) });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/late", stream: true), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);

        Assert.True(answer.Comments.Count >= 3, $"{answer.Comments.Count} comments");
        Assert.All(answer.Comments, c => Assert.Equal(": TOLLGATE PROCESSING", c));
        Assert.True(answer.EndsWithDone);
        Assert.Equal("w1 w2 w3 w4 w5 w6 w7 w8", answer.Text);
    }

    [Fact]
    public async Task UpstreamSilentBeforeFirstByte_Gets408AfterTheFirstByteTimeout()
    {
        Scenario("quick-hang", new Scenario { Fault = Fault.Hang });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/quick-hang"), Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.RequestTimeout);
        Assert.Equal("quick", error.GetProperty("metadata").GetProperty("provider_name").GetString());
    }

    [Fact]
    public async Task UpstreamSilentMidStream_EndsWithA408ErrorEvent()
    {
        Scenario("quick-idle", new Scenario { Chunks = 3, ChunkGap = TimeSpan.FromSeconds(3) });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/quick-idle", stream: true), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);

        Assert.False(answer.EndsWithDone);
        Assert.Equal(408, answer.Chunks[^1].GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task UpstreamWithoutUsage_GetsUsageCountedByTollgate()
    {
        Scenario("nousage", new Scenario { Usage = false });
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/nousage", stream: true), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);

        var usage = answer.Chunks[^1].GetProperty("usage");
        Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 0);
        Assert.True(usage.GetProperty("completion_tokens").GetInt32() >= 8);
        Assert.True(usage.GetProperty("cost").GetDecimal() > 0);
    }

    [Fact]
    public async Task ModelsFallback_WhenTheFirstModelFails_TheNextAnswers()
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/down", extra: ""","models":["fake/gpt"]"""), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("fake/gpt", (await response.ReadAsync()).GetProperty("model").GetString());
    }

    [Fact]
    public async Task ProviderOrderWithoutFallbacks_SendsEveryRequestToTheNamedProvider()
    {
        using var client = await ClientAsync();
        var before = gateway.RequestsFor("weighted-three").Count;

        for (var i = 0; i < 10; i++)
        {
            using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/weighted",
                extra: ""","provider":{"order":["fakeai2"],"allow_fallbacks":false}"""), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(before, gateway.RequestsFor("weighted-three").Count);
    }

    [Fact]
    public async Task WeightedDeployments_ShareTrafficByWeight()
    {
        using var client = await ClientAsync();
        var threeBefore = gateway.RequestsFor("weighted-three").Count;
        var oneBefore = gateway.RequestsFor("weighted-one").Count;

        for (var i = 0; i < 200; i++)
        {
            using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/weighted"), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var three = gateway.RequestsFor("weighted-three").Count - threeBefore;
        var one = gateway.RequestsFor("weighted-one").Count - oneBefore;
        Assert.Equal(200, three + one);
        Assert.InRange(three, 120, 180); // expected 150; ±30 is five standard deviations
    }

    [Fact]
    public async Task FailingDeployment_OpensItsCircuit_AndIsNoLongerCalled()
    {
        Scenario("breaker", new Scenario { Fault = Fault.Status500 });
        using var client = await ClientAsync();
        string? message = null;

        for (var i = 0; i < 5 && message?.Contains("circuit is open", StringComparison.Ordinal) != true; i++)
        {
            using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/breaker"), Ct);
            message = (await response.ReadAsync()).GetProperty("error").GetProperty("message").GetString();
        }

        var calls = gateway.RequestsFor("breaker").Count;
        using var refused = await client.PostAsync("/api/v1/chat/completions", Chat("fake/breaker"), Ct);

        Assert.Contains("circuit is open", message, StringComparison.Ordinal);
        await refused.AssertErrorAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal(calls, gateway.RequestsFor("breaker").Count);
    }

    [Fact]
    public async Task UpstreamCredential_ReachesOnlyTheUpstream_NeverLogsOrAnswers()
    {
        Scenario("leak500", new Scenario { Fault = Fault.Status500 });
        using var client = await ClientAsync();
        var answers = new List<string>();
        foreach (var model in new[] { "fake/gpt", "fake/claude", "fake/leak500", "fake/down" })
        {
            using var response = await client.PostAsync("/api/v1/chat/completions", Chat(model, stream: true), Ct);
            answers.Add(await response.Content.ReadAsStringAsync(Ct));
        }

        Assert.All(answers, a => Assert.DoesNotContain(GatewayFixture.UpstreamKey, a, StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.Tollgate.Logs, line => line.Contains(GatewayFixture.UpstreamKey, StringComparison.Ordinal));
        Assert.Contains(gateway.Fake.Requests, r => r.Headers.Values.Any(v => v.Contains(GatewayFixture.UpstreamKey, StringComparison.Ordinal)));
    }
}
