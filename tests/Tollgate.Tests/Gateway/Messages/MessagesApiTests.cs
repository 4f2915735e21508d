using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;
using Tollgate.Usage;

namespace Tollgate.Tests.Gateway.Messages;

/// <summary>
/// <c>POST /api/v1/messages</c> through the official Anthropic .NET SDK, as Claude Code uses it with
/// <c>ANTHROPIC_BASE_URL</c>: to an Anthropic upstream (the body passed through) and to an OpenAI-compatible one and the demo
/// model (translated both ways), plain, streamed, a tool-use round trip, the errors in Anthropic's shape, and count_tokens.
/// </summary>
public sealed class MessagesApiTests(MessagesFixture fixture) : IClassFixture<MessagesFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Tool Weather = new()
    {
        Name = "get_weather",
        Description = "The weather in a city",
        InputSchema = new()
        {
            Properties = new Dictionary<string, JsonElement>
            {
                ["city"] = JsonSerializer.SerializeToElement(new { type = "string" }),
                ["unit"] = JsonSerializer.SerializeToElement(new { type = "string" }),
            },
            Required = ["city"],
        },
    };

    private static MessageCreateParams Ask(string model, string text, bool tools = false) => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = [new UserMessageParam { Content = text }],
        Tools = tools ? [Weather] : null,
    };

    [Theory]
    [InlineData("fake/claude")]
    [InlineData("fake/gpt")]
    [InlineData("demo/echo")]
    public async Task Plain_AnswersAMessage_BilledAndLogged(string model)
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var client = fixture.Client(secret);

        var message = await client.Messages.Create(Ask(model, "Hello there"), Ct);

        Assert.Equal(model, message.Model.Raw());
        var text = Assert.IsType<TextBlock>(Assert.Single(message.Content).Value);
        Assert.False(string.IsNullOrEmpty(text.Text));
        Assert.Equal(StopReason.EndTurn, message.StopReason!.Value());
        Assert.True(message.Usage.InputTokens > 0);
        Assert.True(message.Usage.OutputTokens > 0);
        var record = await fixture.Tollgate.Service<IUsageStore>().FindGenerationAsync(accountId, message.ID, Ct);
        Assert.NotNull(record);
        Assert.Equal((model, 200, false), (record.Model, record.Status, record.Streamed));
        Assert.True(record.CostNanos > 0);
        Assert.Equal(record.CostNanos, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);
    }

    [Theory]
    [InlineData("fake/claude-tool", "claude-msg-tool")]
    [InlineData("fake/gpt-tool", "gpt-msg-tool")]
    public async Task Streamed_ToolUse_RoundTrip_AsAnthropicItselfStreamsIt(string model, string upstreamModel)
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var client = fixture.Client(secret);

        // Turn one, streamed: the events, in Anthropic's order, assemble into one tool_use block.
        var events = new List<RawMessageStreamEvent>();
        await foreach (var e in client.Messages.CreateStreaming(Ask(model, "Weather in Paris?", tools: true), Ct))
        {
            events.Add(e);
        }

        var message = await ToAsync(events).Aggregate();
        var tool = Assert.IsType<ToolUseBlock>(Assert.Single(message.Content).Value);
        Assert.Equal("get_weather", tool.Name);
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", JsonSerializer.Serialize(tool.Input));
        Assert.Equal(StopReason.ToolUse, message.StopReason!.Value());
        Assert.True(message.Usage.InputTokens > 0);
        Assert.True(message.Usage.OutputTokens > 0);

        // The same request straight to the fake Anthropic upstream: the same events (pings apart), the same shape.
        using var direct = fixture.Direct();
        var directEvents = new List<RawMessageStreamEvent>();
        await foreach (var e in direct.Messages.CreateStreaming(Ask("claude-msg-tool", "Weather in Paris?", tools: true), Ct))
        {
            directEvents.Add(e);
        }

        Assert.Equal(Kinds(directEvents), Kinds(events));
        var directMessage = await ToAsync(directEvents).Aggregate();
        Assert.Equal(JsonSerializer.Serialize(((ToolUseBlock)directMessage.Content[0].Value!).Input), JsonSerializer.Serialize(tool.Input));

        var record = await fixture.Tollgate.Service<IUsageStore>().FindGenerationAsync(accountId, message.ID, Ct);
        Assert.True(record is { Streamed: true, Status: 200, FinishReason: "tool_calls" }, record?.ToString());

        // Turn two: the tool's result goes back; the answer is text.
        fixture.Fake.Options.Scenarios[upstreamModel] = new global::Tollgate.FakeUpstream.Scenario();
        try
        {
            var second = await client.Messages.Create(new MessageCreateParams
            {
                Model = model,
                MaxTokens = 256,
                Tools = [Weather],
                Messages =
                [
                    new UserMessageParam { Content = "Weather in Paris?" },
                    new AssistantMessageParam { Content = new List<ContentBlockParam> { new ToolUseBlockParam { ID = tool.ID, Name = tool.Name, Input = tool.Input } } },
                    new UserMessageParam { Content = new List<ContentBlockParam> { new ToolResultBlockParam { ToolUseID = tool.ID, Content = "22 C" } } },
                ],
            }, Ct);

            Assert.Equal(StopReason.EndTurn, second.StopReason!.Value());
            Assert.IsType<TextBlock>(Assert.Single(second.Content).Value);
            var upstream = fixture.RequestsFor(upstreamModel)[^1].Body;
            Assert.Contains("22 C", upstream, StringComparison.Ordinal);
            Assert.Contains(tool.ID, upstream, StringComparison.Ordinal);
        }
        finally
        {
            fixture.Fake.Options.Scenarios[upstreamModel] = new global::Tollgate.FakeUpstream.Scenario { ToolCall = true };
        }
    }

    [Fact]
    public async Task ToAnAnthropicUpstream_TheBodyPassesThrough_WithOnlyTheModelRewritten()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.CreateClient();
        var body = """
            {"model":"fake/claude","max_tokens":300,"top_k":5,"metadata":{"user_id":"u-1"},
             "system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}],
             "messages":[{"role":"user","content":[{"type":"text","text":"Hi","cache_control":{"type":"ephemeral","ttl":"1h"}},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]}
            """;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages") { Content = Json.Body(body) };
        request.Headers.Add("x-api-key", secret);
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("anthropic-beta", "interleaved-thinking-2025-05-14");
        using var response = await http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var received = fixture.RequestsFor("claude-msg")[^1];
        var sent = JsonNode.Parse(received.Body)!.AsObject();
        var expected = JsonNode.Parse(body)!.AsObject();
        expected["model"] = "claude-msg";
        expected["stream"] = false;
        expected["messages"]![0]!["content"]![0]!["cache_control"]!.AsObject().Remove("ttl"); // a 1-hour write costs more than the prices count
        Assert.True(JsonNode.DeepEquals(expected, sent), sent.ToJsonString());
        Assert.Equal("interleaved-thinking-2025-05-14", received.Headers["anthropic-beta"]);
        Assert.Equal("sk-upstream-messages", received.Headers["x-api-key"]); // the operator's key, never the client's
    }

    [Theory]
    [InlineData("\"service_tier\":\"auto\"", "service_tier")]
    [InlineData("\"speed\":\"fast\"", "speed")]
    [InlineData("\"inference_geo\":\"us\"", "inference_geo")]
    [InlineData("\"container\":\"container_1\"", "container")]
    [InlineData("\"mcp_servers\":[{\"type\":\"url\",\"url\":\"https://mcp.example.com\",\"name\":\"x\"}]", "mcp_servers")]
    [InlineData("\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":50}]", "web_search_20250305")]
    [InlineData("\"tools\":[{\"type\":\"code_execution_20250825\",\"name\":\"code_execution\"}]", "code_execution_20250825")]
    public async Task FieldsAnthropicBillsBeyondTokens_AreRefused_BeforeTheUpstream(string field, string named)
    {
        var (accountId, secret) = await fixture.AccountAsync();
        var before = fixture.RequestsFor("claude-msg").Count;
        using var http = fixture.Tollgate.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
        {
            Content = Json.Body($$"""{"model":"fake/claude","max_tokens":100,{{field}},"messages":[{"role":"user","content":"hi"}]}"""),
        };
        request.Headers.Add("x-api-key", secret);
        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains(named, error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, fixture.RequestsFor("claude-msg").Count);
        Assert.Equal(0, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);
    }

    [Fact]
    public async Task ADocumentOnlyAnthropicReads_IsReservedByItsBytes_SoItCannotOutspendTheAccount()
    {
        var (accountId, secret) = await fixture.AccountAsync(credits: 0.05m);
        var before = fixture.RequestsFor("claude-msg").Count;
        using var http = fixture.Tollgate.CreateClient();
        var pdf = Convert.ToBase64String(new byte[150_000]); // 200,000 bytes: at $0.000003 a token, up to $0.60
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
        {
            Content = Json.Body($$$"""
                {"model":"fake/claude","max_tokens":10,"messages":[{"role":"user","content":[
                  {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"{{{pdf}}}"}},
                  {"type":"text","text":"Summarise it"}]}]}
                """),
        };
        request.Headers.Add("x-api-key", secret);
        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        Assert.Equal(before, fixture.RequestsFor("claude-msg").Count);
        Assert.Equal(0, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);
    }

    [Fact]
    public async Task ImagesInToolResults_AreReservedAsImages_NotByTheirFewBytes()
    {
        var (accountId, secret) = await fixture.AccountAsync(credits: 0.05m);
        var before = fixture.RequestsFor("claude-msg").Count;
        var image = """{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}""";
        var images = string.Join(',', Enumerable.Repeat(image, 20)); // 20 × 2,500 tokens at $0.000003: $0.15
        using var http = fixture.Tollgate.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
        {
            Content = Json.Body($$$"""
                {"model":"fake/claude","max_tokens":10,"messages":[
                  {"role":"user","content":"Take screenshots"},
                  {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"screenshot","input":{}}]},
                  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{{{images}}}]}]}]}
                """),
        };
        request.Headers.Add("x-api-key", secret);
        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        Assert.Equal(before, fixture.RequestsFor("claude-msg").Count);
        Assert.Equal(0, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);
    }

    [Fact]
    public async Task BearerAuthentication_WorksToo_AndXApiKeyOnlyOnTheMessagesApi()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.CreateClient();
        using var bearer = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
        {
            Content = Json.Body("""{"model":"demo/echo","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}"""),
        };
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using (var answered = await http.SendAsync(bearer, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }

        using var chat = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions")
        {
            Content = Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}"""),
        };
        chat.Headers.Add("x-api-key", secret);
        using var refused = await http.SendAsync(chat, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("Authorization: Bearer", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_ComeInAnthropicsShape_WithTheMatchingStatus()
    {
        var (_, secret) = await fixture.AccountAsync();
        var (_, broke) = await fixture.AccountAsync(credits: 0m);
        var (_, narrow) = await fixture.AccountAsync(keySettings: """{"name":"narrow","models":["demo/echo"]}""");

        var unauthorized = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(
            () => fixture.Client("sk-tg-v1-not-a-real-key-000000000000000000000000000").Messages.Create(Ask("demo/echo", "hi"), Ct));
        await AssertShapeAsync(unauthorized, 401, "authentication_error", "Invalid API key");

        var billing = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => fixture.Client(broke).Messages.Create(Ask("fake/claude", "hi"), Ct));
        await AssertShapeAsync(billing, 402, "billing_error", "credits");

        var forbidden = await Assert.ThrowsAsync<AnthropicForbiddenException>(() => fixture.Client(narrow).Messages.Create(Ask("fake/claude", "hi"), Ct));
        await AssertShapeAsync(forbidden, 403, "permission_error", "fake/claude");

        var missing = await Assert.ThrowsAsync<AnthropicNotFoundException>(() => fixture.Client(secret).Messages.Create(Ask("nobody/nothing", "hi"), Ct));
        await AssertShapeAsync(missing, 404, "not_found_error", "nobody/nothing");

        using var http = fixture.Tollgate.CreateClient();
        foreach (var (body, field) in new[]
        {
            ("""{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}""", "max_tokens"),
            ("""{"model":"demo/echo","max_tokens":10,"messages":[]}""", "messages"),
            ("""{"model":"demo/echo","max_tokens":10,"messages":[{"role":"system","content":"hi"}]}""", "messages[0]"),
            ("""{"model":"demo/echo","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}""", "document"),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages") { Content = Json.Body(body) };
            request.Headers.Add("x-api-key", secret);
            using var response = await http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
            Assert.Equal("invalid_request_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
            Assert.Contains(field, error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using var noKey = await http.PostAsync("/api/v1/messages", Json.Body("""{"model":"demo/echo","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"""), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Contains("x-api-key", await noKey.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CountTokens_CountsThePrompt_ChargesNothing()
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var client = fixture.Client(secret);

        var small = await client.Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "fake/claude",
            Messages = [new UserMessageParam { Content = "Hello" }],
        }, Ct);
        var large = await client.Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "fake/claude",
            Messages = [new UserMessageParam { Content = string.Join(' ', Enumerable.Repeat("Hello there, how are you?", 100)) }],
        }, Ct);

        Assert.True(small.InputTokens > 0);
        Assert.True(large.InputTokens > small.InputTokens * 20);
        Assert.Equal(0, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);
        await Assert.ThrowsAsync<AnthropicNotFoundException>(() => client.Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "nobody/nothing",
            Messages = [new UserMessageParam { Content = "Hello" }],
        }, Ct));
    }

    private static async Task AssertShapeAsync(AnthropicApiException exception, int status, string type, string inMessage)
    {
        Assert.Equal(status, (int)exception.StatusCode);
        using var body = JsonDocument.Parse(exception.ResponseBody);
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(type, body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(inMessage, body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("req_", body.RootElement.GetProperty("request_id").GetString() ?? "req_", StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    /// <summary>The kinds of events in order, without pings, consecutive deltas counted once.</summary>
    private static string[] Kinds(IEnumerable<RawMessageStreamEvent> events)
    {
        var kinds = new List<string>();
        foreach (var e in events)
        {
            var kind = e.Json.GetProperty("type").GetString()!;
            if (kind != "ping" && (kinds.Count == 0 || kinds[^1] != kind || kind != "content_block_delta"))
            {
                kinds.Add(kind);
            }
        }

        return [.. kinds];
    }

    private static async IAsyncEnumerable<RawMessageStreamEvent> ToAsync(IEnumerable<RawMessageStreamEvent> events)
    {
        foreach (var e in events)
        {
            yield return e;
        }

        await Task.CompletedTask;
    }
}
