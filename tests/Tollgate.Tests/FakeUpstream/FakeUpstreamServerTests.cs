using System.Net;
using System.Text;
using System.Text.Json;
using Tollgate.FakeUpstream;

namespace Tollgate.Tests.FakeUpstream;

public sealed class FakeUpstreamServerTests
{
    private const string EightWords = "w1 w2 w3 w4 w5 w6 w7 w8";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ChatCompletions_NotStreaming_AnswersChatCompletionWithUsage()
    {
        await using var server = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        using var client = ClientFor(server);

        using var response = await client.PostAsync("v1/chat/completions", Body(
            """{"model":"gpt-fake","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the  weather\nin Paris?"}]}"""), Ct);
        var body = await ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("Server"));
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("gpt-fake", body.GetProperty("model").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(EightWords, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(8, usage.GetProperty("prompt_tokens").GetInt32()); // "Be brief." + "What is the weather in Paris?"
        Assert.Equal(8, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(16, usage.GetProperty("total_tokens").GetInt32());
        var received = Assert.Single(server.Requests);
        Assert.Equal("/v1/chat/completions", received.Path);
        Assert.Equal("gpt-fake", received.Model);
        Assert.Contains("What is the", received.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ChatCompletions_Stream_SendsUsageChunkBeforeDoneOnlyWhenIncludeUsage(bool includeUsage)
    {
        await using var server = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        using var client = ClientFor(server);

        using var response = await client.PostAsync("v1/chat/completions", Body(
            $$"""{"model":"gpt-fake","stream":true,"stream_options":{"include_usage":{{(includeUsage ? "true" : "false")}}},"messages":[{"role":"user","content":"Hello there"}]}"""), Ct);
        var events = await ReadSseAsync(response);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var withChoices = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0]).ToList();
        Assert.Equal(EightWords, string.Concat(withChoices.Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : "")));
        Assert.Equal("stop", withChoices[^1].GetProperty("finish_reason").GetString());
        var usageChunks = chunks.Where(c => c.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object).ToList();
        if (includeUsage)
        {
            var usageChunk = Assert.Single(usageChunks);
            Assert.Equal(chunks[^1], usageChunk);
            Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
            Assert.Equal(2, usageChunk.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(8, usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
        else
        {
            Assert.Empty(usageChunks);
            Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
        }
    }

    [Fact]
    public async Task Messages_StreamWithToolCall_SendsEventsInOrderAndInputJsonThatParses()
    {
        var options = new FakeUpstreamOptions();
        options.Scenarios["claude-tools"] = new Scenario { ToolCall = true, CachedTokens = 2 };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);

        using var response = await client.SendAsync(AnthropicRequest(
            """{"model":"claude-tools","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Weather in Paris, please"}]}"""), Ct);
        var events = await ReadSseAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var names = events.Select(e => e.Event).ToList();
        var deltas = names.Count(n => n == "content_block_delta");
        Assert.True(deltas > 1, $"the arguments should arrive in several deltas, got {deltas}");
        Assert.Equal(
            ["message_start", "content_block_start", "ping", .. Enumerable.Repeat("content_block_delta", deltas), "content_block_stop", "message_delta", "message_stop"],
            names);
        var data = events.Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.All(events.Zip(data), e => Assert.Equal(e.First.Event, e.Second.GetProperty("type").GetString()));
        Assert.Equal(2, data[0].GetProperty("message").GetProperty("usage").GetProperty("cache_read_input_tokens").GetInt32());
        var block = data[1].GetProperty("content_block");
        Assert.Equal("tool_use", block.GetProperty("type").GetString());
        Assert.Equal("get_weather", block.GetProperty("name").GetString());
        var parts = data.Where(d => d.GetProperty("type").GetString() == "content_block_delta").Select(d => d.GetProperty("delta")).ToList();
        Assert.All(parts, p => Assert.Equal("input_json_delta", p.GetProperty("type").GetString()));
        var input = JsonDocument.Parse(string.Concat(parts.Select(p => p.GetProperty("partial_json").GetString()))).RootElement;
        Assert.Equal("Paris", input.GetProperty("city").GetString());
        Assert.Equal("celsius", input.GetProperty("unit").GetString());
        var messageDelta = data[^2];
        Assert.Equal("tool_use", messageDelta.GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal(deltas, messageDelta.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task Messages_WithoutApiKey_Answers401AuthenticationError()
    {
        await using var server = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        using var client = ClientFor(server);

        using var response = await client.PostAsync("v1/messages", Body(
            """{"model":"claude-fake","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]}"""), Ct);
        var body = await ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal("authentication_error", body.GetProperty("error").GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetProperty("message").GetString()));
    }

    [Fact]
    public async Task ChatCompletions_FailFirstOneWithStatus500_FailsOnceThenSucceeds()
    {
        var options = new FakeUpstreamOptions();
        options.Scenarios["flaky"] = new Scenario { Fault = Fault.Status500, FailFirst = 1 };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);
        const string Request = """{"model":"flaky","messages":[{"role":"user","content":"Hi"}]}""";

        using var first = await client.PostAsync("v1/chat/completions", Body(Request), Ct);
        var error = await ReadJsonAsync(first);
        using var second = await client.PostAsync("v1/chat/completions", Body(Request), Ct);
        var answer = await ReadJsonAsync(second);

        Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        Assert.Equal("server_error", error.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(EightWords, answer.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task Messages_Status429_AnswersRateLimitErrorWithRetryAfter()
    {
        var options = new FakeUpstreamOptions { Default = new Scenario { Fault = Fault.Status429 } };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);

        using var response = await client.SendAsync(AnthropicRequest(
            """{"model":"claude-fake","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]}"""), Ct);
        var body = await ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Equal("rate_limit_error", body.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task ChatCompletions_MalformedSse_EndsAfterTwoChunksWithBrokenJson()
    {
        var options = new FakeUpstreamOptions { Default = new Scenario { Fault = Fault.MalformedSse } };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);

        using var response = await client.PostAsync("v1/chat/completions", Body(
            """{"model":"gpt-fake","stream":true,"messages":[{"role":"user","content":"Hi"}]}"""), Ct);
        var events = await ReadSseAsync(response);

        Assert.Equal(4, events.Count); // role chunk, w1, w2, the broken one; no [DONE]
        Assert.Equal("""{"broken": """, events[^1].Data);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(events[^1].Data));
    }

    [Fact]
    public async Task ChatCompletions_HugeChunk_FirstChunkCarriesFiveMebibytes()
    {
        var options = new FakeUpstreamOptions { Default = new Scenario { Fault = Fault.HugeChunk, Chunks = 2 } };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);

        using var response = await client.PostAsync("v1/chat/completions", Body(
            """{"model":"gpt-fake","stream":true,"messages":[{"role":"user","content":"Hi"}]}"""), Ct);
        var events = await ReadSseAsync(response);

        var contents = events[..^1]
            .Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("content", out var c) && c.GetString() != "")
            .Select(d => d.GetProperty("content").GetString()!)
            .ToList();
        Assert.Equal(2, contents.Count);
        Assert.Equal(5 * 1024 * 1024, contents[0].Length);
        Assert.StartsWith("w1", contents[0], StringComparison.Ordinal);
        Assert.Equal(" w2", contents[1]);
        Assert.Equal("[DONE]", events[^1].Data);
    }

    [Fact]
    public async Task ChatCompletions_CutMidStream_ClientReadFails()
    {
        var options = new FakeUpstreamOptions { Default = new Scenario { Fault = Fault.CutMidStream } };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Body("""{"model":"gpt-fake","stream":true,"messages":[{"role":"user","content":"Hi"}]}"""),
        };

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        var lines = new List<string>();
        var readFailure = await Record.ExceptionAsync(async () =>
        {
            while (await reader.ReadLineAsync(Ct) is { } line)
            {
                lines.Add(line);
            }
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.IsAssignableFrom<IOException>(readFailure);
        var words = lines.Where(l => l.Contains("\"content\":\"", StringComparison.Ordinal) && !l.Contains("\"content\":\"\"", StringComparison.Ordinal));
        Assert.Equal(4, words.Count()); // half of the 8 chunks arrived before the cut
        Assert.DoesNotContain("data: [DONE]", lines);
        Assert.Equal(0, server.CancelledRequests); // the server cut the stream; no client cancelled
    }

    [Fact]
    public async Task ChatCompletions_ClientDisconnectsDuringSlowStream_CountsCancelledRequest()
    {
        var options = new FakeUpstreamOptions { Default = new Scenario { Chunks = 3, ChunkGap = TimeSpan.FromSeconds(30) } };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Body("""{"model":"gpt-fake","stream":true,"messages":[{"role":"user","content":"Hi"}]}"""),
        };
        using var disconnect = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        await using var stream = await response.Content.ReadAsStreamAsync(Ct);

        // Read until the first word has arrived; the second one is 30 s away.
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (!received.ToString().Contains("\"w1\"", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, Ct);
            Assert.NotEqual(0, read);
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        // Cancelling a pending read makes the client drop the connection.
        var pending = stream.ReadAsync(buffer, disconnect.Token).AsTask();
        Assert.Equal(0, server.CancelledRequests);
        await disconnect.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);

        await server.WaitForCancelledAsync(1, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(1, server.CancelledRequests);
    }

    [Fact]
    public async Task Hang_ClientGivesUp_CountsCancelledRequest()
    {
        var options = new FakeUpstreamOptions { Default = new Scenario { Fault = Fault.Hang } };
        await using var server = await FakeUpstreamServer.StartAsync(options);
        using var client = ClientFor(server);
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        giveUp.CancelAfter(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PostAsync("v1/chat/completions", Body(
            """{"model":"gpt-fake","messages":[{"role":"user","content":"Hi"}]}"""), giveUp.Token));

        await server.WaitForCancelledAsync(1, TimeSpan.FromSeconds(10), Ct);
        Assert.Single(server.Requests);
    }

    private static HttpClient ClientFor(FakeUpstreamServer server) => new() { BaseAddress = server.BaseAddress };

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static HttpRequestMessage AnthropicRequest(string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = Body(json) };
        request.Headers.Add("x-api-key", "sk-ant-test");
        request.Headers.Add("anthropic-version", "2023-06-01");
        return request;
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;

    /// <summary>Splits an SSE body into events; every event must end with a blank line.</summary>
    private static async Task<List<(string? Event, string Data)>> ReadSseAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.EndsWith("\n\n", text, StringComparison.Ordinal);
        var events = new List<(string? Event, string Data)>();
        foreach (var block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null;
            var data = new StringBuilder();
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Append(line["data: ".Length..]);
                }
            }

            events.Add((name, data.ToString()));
        }

        return events;
    }
}
