using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Microsoft.AspNetCore.Http;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// The fuzzed chat bodies of <see cref="MalformedBodyAttacks"/>, sent to models behind real providers: an
/// <c>openai</c>-type deployment, whose request Tollgate rewrites (caps, dropped fields), and an
/// <c>anthropic</c> one, whose request it translates. The upstream always answers well, so any 5xx is
/// Tollgate's own: a body a client got wrong is a 400 in the envelope, whichever provider it meets.
/// </summary>
public sealed class ProviderBodyAttacks(HostileFixture hostile) : IClassFixture<HostileFixture>
{
    // Issue 9, item 17
    [Theory]
    [InlineData("hostile/gpt")]
    [InlineData("hostile/claude")]
    public async Task FuzzedChatBodies_ToARealProvider_NeverAnswer5xx(string model)
    {
        hostile.Upstream.Answer = WellFormedAnswerAsync;
        var (accountId, secret) = await hostile.AccountAsync(1_000m);
        using var client = hostile.Tollgate.Client(secret);
        var demo = Encoding.UTF8.GetBytes("\"demo/echo\"");
        var target = Encoding.UTF8.GetBytes($"\"{model}\"");
        var oks = 0;

        await MalformedBodyAttacks.FuzzBodies.Chat.Select(body => Replace(body, demo, target)).SampleAsync(async body =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

            Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode}: {text}");
            Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref oks);
            }
        }, iter: 600, threads: 2, print: body => Encoding.UTF8.GetString(body[..Math.Min(body.Length, 600)]));

        Assert.True(oks > 0, "some fuzzed bodies are valid and answered");
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }

    private static byte[] Replace(byte[] body, byte[] from, byte[] to)
    {
        var at = body.AsSpan().IndexOf(from);
        return at < 0 ? body : [.. body.AsSpan(0, at), .. to, .. body.AsSpan(at + from.Length)];
    }

    /// <summary>A short, valid answer in the format of the path asked, streamed when the body asks for a stream.</summary>
    private static Task WellFormedAnswerAsync(HttpContext context, JsonObject body)
    {
        var stream = body["stream"] is JsonValue s && s.TryGetValue<bool>(out var streamed) && streamed;
        if (context.Request.Path.StartsWithSegments("/v1/messages"))
        {
            if (stream)
            {
                return HostileUpstream.WriteEventsAsync(context,
                [
                    """event: message_start""" + "\n" + """data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-hostile","content":[],"usage":{"input_tokens":5,"output_tokens":0}}}""",
                    """event: content_block_start""" + "\n" + """data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""",
                    """event: content_block_delta""" + "\n" + """data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}""",
                    """event: content_block_stop""" + "\n" + """data: {"type":"content_block_stop","index":0}""",
                    """event: message_delta""" + "\n" + """data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}""",
                    """event: message_stop""" + "\n" + """data: {"type":"message_stop"}""",
                ]);
            }

            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(
                """{"id":"msg_1","type":"message","role":"assistant","model":"claude-hostile","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}""");
        }

        if (stream)
        {
            return HostileUpstream.WriteEventsAsync(context,
            [
                """data: {"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}""",
                """data: {"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""",
                "data: [DONE]",
            ]);
        }

        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(
            """{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""");
    }
}
