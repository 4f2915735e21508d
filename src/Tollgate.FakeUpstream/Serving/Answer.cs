using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>
/// The deterministic content of every answer, whatever the format.
/// Text: chunk i (1-based) is <c>"w{i}"</c>, preceded by a space from the second chunk on, so the
/// whole answer is <c>"w1 w2 … wN"</c>. Tool call: <c>get_weather</c> with
/// <c>{"city":"Paris","unit":"celsius"}</c> in <see cref="ToolArgumentParts"/>.
/// Tokens: one word is one token; completion tokens are N, or the number of argument parts for
/// a tool call; prompt tokens are the words of the request's messages and system prompt.
/// </summary>
internal static class Answer
{
    public const string ToolName = "get_weather";
    public const string ToolArguments = """{"city":"Paris","unit":"celsius"}""";

    /// <summary>The tool arguments as streamed, one delta each; they concatenate to <see cref="ToolArguments"/>.</summary>
    public static readonly IReadOnlyList<string> ToolArgumentParts = ["""{"city":""", "\"Paris\"", ""","unit":""", "\"celsius\"}"];

    /// <summary>Size of the first chunk under <see cref="Fault.HugeChunk"/>: <c>w1</c> padded with <c>x</c> to 5 MiB (still one word).</summary>
    public const int HugeChunkLength = 5 * 1024 * 1024;

    public static string[] TextChunks(Scenario scenario)
    {
        var chunks = new string[scenario.Chunks];
        for (var i = 0; i < chunks.Length; i++)
        {
            chunks[i] = i == 0 ? "w1" : " w" + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (scenario.Fault == Fault.HugeChunk && chunks.Length > 0)
        {
            chunks[0] = chunks[0].PadRight(HugeChunkLength, 'x');
        }

        return chunks;
    }

    /// <summary>The reasoning, one word per chunk, when the scenario thinks; it concatenates to <see cref="ThinkingText"/>.</summary>
    public static readonly IReadOnlyList<string> ThinkingChunks = ["Thinking", " it", " through", " first."];

    public static string ThinkingText => string.Concat(ThinkingChunks);

    /// <summary>
    /// The signature of the fake's thinking block. The Anthropic endpoint refuses a thinking block sent back with
    /// another signature or another text, as Anthropic refuses one that was altered.
    /// </summary>
    public const string ThinkingSignature = "EqQBCkgIARABGAIiQFakeUpstreamSignatureOfTheThinkingBlock";

    /// <summary>The data of the fake's <c>redacted_thinking</c> block.</summary>
    public const string RedactedThinkingData = "EmwKAhgBEgy3va3pzix/LafPsn4aDFakeRedactedThinking";

    public static int CompletionTokens(Scenario scenario) =>
        (scenario.ToolCall ? ToolArgumentParts.Count : scenario.Chunks) + (scenario.Thinking ? ThinkingChunks.Count : 0);

    /// <summary>Prompt tokens are the request's words, but never fewer than the cached tokens reported.</summary>
    public static ResponseNumbers Numbers(long sequence, long created, int promptWords, Scenario scenario)
    {
        var prompt = Math.Max(promptWords, scenario.CachedTokens);
        return new ResponseNumbers(sequence, created, prompt, prompt + CompletionTokens(scenario), prompt - scenario.CachedTokens);
    }

    /// <summary>A JSON string literal, quotes included.</summary>
    public static string Quote(string text) =>
        "\"" + JsonEncodedText.Encode(text, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString() + "\"";
}
