using System.IO.Pipelines;
using System.Text.Json.Nodes;
using Tollgate.Providers;

namespace Tollgate.Gateway;

/// <summary>
/// How a chat call's answer is written to its client. The gateway always works in OpenAI's shapes (a
/// <c>chat.completion</c>, <c>chat.completion.chunk</c>s, usage at the end); a format writes them as its API does:
/// OpenAI's as they are, Anthropic's Messages API translated (<see cref="Messages.AnthropicAnswerFormat"/>). One
/// instance per call: a format may keep the state of the stream it writes.
/// </summary>
internal interface IChatAnswerFormat
{
    /// <summary>The whole answer: a stamped <c>chat.completion</c> with its usage (and cost) set.</summary>
    ValueTask WriteCompletionAsync(HttpResponse response, JsonObject completion, ChatUsage usage, CancellationToken cancellationToken);

    /// <summary>One chunk that delivers part of the answer (stamped; its usage already taken off).</summary>
    ValueTask WriteChunkAsync(PipeWriter writer, JsonObject chunk, ChatUsage? usageSoFar, CancellationToken cancellationToken);

    /// <summary>The end of a stream that was charged: <paramref name="usageChunk"/> carries the usage and cost.</summary>
    ValueTask WriteEndAsync(PipeWriter writer, JsonObject usageChunk, ChatUsage usage, CancellationToken cancellationToken);

    /// <summary>The last event of a stream that failed after it started (<paramref name="errorChunk"/> is the OpenAI error chunk).</summary>
    ValueTask WriteErrorAsync(PipeWriter writer, JsonObject errorChunk, UpstreamException error, CancellationToken cancellationToken);
}

/// <summary>OpenAI's Chat Completions format (SPEC section 3): the gateway's own shapes, written as they are.</summary>
internal sealed class OpenAiAnswerFormat : IChatAnswerFormat
{
    public static readonly OpenAiAnswerFormat Instance = new();

    public ValueTask WriteCompletionAsync(HttpResponse response, JsonObject completion, ChatUsage usage, CancellationToken cancellationToken) =>
        ChatResponses.WriteJsonAsync(response, completion, cancellationToken);

    public ValueTask WriteChunkAsync(PipeWriter writer, JsonObject chunk, ChatUsage? usageSoFar, CancellationToken cancellationToken) =>
        ChatResponses.WriteEventAsync(writer, chunk, cancellationToken);

    public async ValueTask WriteEndAsync(PipeWriter writer, JsonObject usageChunk, ChatUsage usage, CancellationToken cancellationToken)
    {
        await ChatResponses.WriteEventAsync(writer, usageChunk, cancellationToken);
        await ChatResponses.WriteDoneAsync(writer, cancellationToken);
    }

    public ValueTask WriteErrorAsync(PipeWriter writer, JsonObject errorChunk, UpstreamException error, CancellationToken cancellationToken) =>
        ChatResponses.WriteEventAsync(writer, errorChunk, cancellationToken);
}
