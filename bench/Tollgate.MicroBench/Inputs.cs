using System.Globalization;
using System.Text;
using Tollgate.Models;

namespace Tollgate.MicroBench;

/// <summary>Realistic inputs shared by the benchmarks: what a client sends and what an upstream answers.</summary>
internal static class Inputs
{
    public const string ModelId = "openai/gpt-4o-mini";
    public const string UpstreamModel = "gpt-4o-mini";
    public const string ProviderName = "openai";

    /// <summary>Chunks of generated text in <see cref="OpenAiStream"/>.</summary>
    public const int StreamChunks = 64;

    /// <summary>A typical streamed chat request from an OpenAI SDK: about 1 KB, 3 messages.</summary>
    public static byte[] ChatRequestBody() => Encoding.UTF8.GetBytes(
        """
        {"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant for an online bookshop. Answer briefly and politely, in the language of the customer. When you recommend a book, give its title, its author and one sentence on why it fits. Never invent prices or stock levels: say that the shop page shows them."},{"role":"assistant","content":"Hello! I can help you find a book, check an order, or answer questions about delivery and returns. What are you looking for today?"},{"role":"user","content":"I am looking for a present for my father, who is 68 and loved \"The Name of the Rose\" and \"Shogun\". He reads mostly historical novels, sometimes a thriller, and he does not like books that are longer than 600 pages because he reads in bed. Could you suggest three books, ideally one of them translated from another language, and tell me which one you would pick if I can only buy one?"}],"stream":true,"temperature":0.7,"top_p":1,"max_tokens":512,"user":"customer-42817"}
        """);

    /// <summary>
    /// An OpenAI stream as <c>src/Tollgate.FakeUpstream</c> serves it with <c>stream_options.include_usage</c>:
    /// a role chunk, <see cref="StreamChunks"/> text chunks (<c>"w1"</c>, <c>" w2"</c>, ...), a finish chunk,
    /// the usage chunk (no choices), then <c>[DONE]</c>. Every chunk but the last carries <c>"usage":null</c>.
    /// </summary>
    public static byte[] OpenAiStream()
    {
        const string chunk =
            """data: {"id":"chatcmpl-fake-1","object":"chat.completion.chunk","created":1795737600,"model":"gpt-4o-mini","system_fingerprint":"fp_fake","choices":[{choice}]{usage}}""" + "\n\n";
        static string Chunk(string choice, string usage = ",\"usage\":null") =>
            chunk.Replace("{choice}", choice, StringComparison.Ordinal).Replace("{usage}", usage, StringComparison.Ordinal);

        var sse = new StringBuilder();
        sse.Append(Chunk("""{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}"""));
        for (var i = 1; i <= StreamChunks; i++)
        {
            var text = (i == 1 ? "w" : " w") + i.ToString(CultureInfo.InvariantCulture);
            sse.Append(Chunk("""{"index":0,"delta":{"content":"{text}"},"logprobs":null,"finish_reason":null}""".Replace("{text}", text, StringComparison.Ordinal)));
        }

        sse.Append(Chunk("""{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}"""));
        sse.Append(Chunk("",
            ""","usage":{"prompt_tokens":147,"completion_tokens":64,"total_tokens":211,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"""));
        sse.Append("data: [DONE]\n\n");
        return Encoding.UTF8.GetBytes(sse.ToString());
    }

    /// <summary>The catalogue entry, deployment and provider the requests are routed to.</summary>
    public static ModelDefinition Model() => new()
    {
        Id = ModelId,
        MaxCompletionTokens = 16_384,
        Pricing = new ModelPricing { Prompt = 0.00000015m, Completion = 0.0000006m },
        Deployments = [Deployment()],
    };

    public static DeploymentDefinition Deployment() => new() { Provider = ProviderName, Model = UpstreamModel };

    public static ProviderSettings Provider() => new()
    {
        Name = ProviderName,
        Type = "openai",
        BaseUrl = "http://127.0.0.1:8080/v1",
        ApiKey = "sk-upstream-bench",
    };
}
