using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Tollgate.Gateway;
using Tollgate.Models;
using Tollgate.Providers;
using Tollgate.Providers.OpenAi;

namespace Tollgate.MicroBench;

/// <summary>
/// One whole streamed answer (per operation = per stream): a 64-chunk OpenAI stream with the usage chunk
/// at the end, as the fake upstream serves it, read event by event (<see cref="ServerSentEvents.ReadAsync"/>),
/// parsed (<see cref="OpenAiProvider.ParseChunk"/>) and, in <see cref="ReadParseStampWrite"/>, passed on to
/// the client as the gateway does (<see cref="ChatResponses.Stamp"/>, <see cref="ChatResponses.WriteEventAsync"/>
/// into a <see cref="PipeWriter"/> over <see cref="Stream.Null"/>).
/// </summary>
[MemoryDiagnoser]
public class StreamBenchmarks
{
    private const string GenerationId = "gen-1795737600-AbCdEfGhIjKlMnOpQrSt";
    private readonly ModelPricing _pricing = Inputs.Model().Prices;
    private readonly UpstreamRedactor _redactor = new(Microsoft.Extensions.Options.Options.Create(new CatalogOptions()));
    private readonly long _created = 1_795_737_600;
    private byte[] _upstream = [];
    private PipeWriter _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        _upstream = Inputs.OpenAiStream();
        _client = PipeWriter.Create(Stream.Null);
    }

    [GlobalCleanup]
    public void Cleanup() => _client.Complete();

    [Benchmark]
    public async Task<int> ReadEvents()
    {
        var events = 0;
        await foreach (var _ in ServerSentEvents.ReadAsync(Upstream(), CancellationToken.None))
        {
            events++;
        }

        return events;
    }

    [Benchmark]
    public async Task<int> ReadAndParse()
    {
        var chunks = 0;
        await foreach (var next in ServerSentEvents.ReadAsync(Upstream(), CancellationToken.None))
        {
            if (next.DataIs("[DONE]"u8))
            {
                break;
            }

            chunks += OpenAiProvider.ParseChunk(next.Utf8Data.Span, Inputs.ProviderName, _redactor).Count;
        }

        return chunks;
    }

    /// <summary>
    /// The per-chunk work of <c>OpenAiProvider.ReadChunksAsync</c> and <c>ChatCompletionsApi.StreamAsync</c>,
    /// whose loops are private: the glue below mirrors them (keep it in step), every step is the product's own call.
    /// Left out: the router, timers and <c>Call.NoteFinish</c>.
    /// </summary>
    [Benchmark]
    public async Task<int> ReadParseStampWrite()
    {
        ChatUsage? usage = null;
        var finished = false;
        var text = new StringBuilder();
        await foreach (var next in ServerSentEvents.ReadAsync(Upstream(), CancellationToken.None))
        {
            // OpenAiProvider.ReadChunksAsync
            if (next.DataIs("[DONE]"u8))
            {
                break;
            }

            var chunk = OpenAiProvider.ParseChunk(next.Utf8Data.Span, Inputs.ProviderName, _redactor);
            finished |= chunk["choices"] is JsonArray finishing &&
                finishing.Any(c => c?["finish_reason"] is JsonValue reason && reason.GetValueKind() == JsonValueKind.String);

            // ChatCompletionsApi.StreamAsync
            if (chunk["usage"] is JsonObject reported)
            {
                usage = ChatUsage.FromOpenAi(reported) ?? usage;
            }

            chunk.Remove("usage");
            if (chunk["choices"] is JsonArray { Count: > 0 } choices)
            {
                ChatResponses.Stamp(chunk, GenerationId, Inputs.ModelId, "chat.completion.chunk");
                chunk["created"] ??= _created;
                foreach (var choice in choices.OfType<JsonObject>())
                {
                    ChatResponses.CollectText(choice["delta"] as JsonObject, text);
                }

                await ChatResponses.WriteEventAsync(_client, chunk, CancellationToken.None);
            }
        }

        // The last event: Tollgate's usage (after settling, left out here), then [DONE].
        var cost = usage!.CostNanos(_pricing);
        var last = new JsonObject
        {
            ["id"] = GenerationId,
            ["object"] = "chat.completion.chunk",
            ["created"] = _created,
            ["model"] = Inputs.ModelId,
            ["choices"] = new JsonArray(),
            ["usage"] = usage.ToJson(cost),
        };
        await ChatResponses.WriteEventAsync(_client, last, CancellationToken.None);
        await ChatResponses.WriteDoneAsync(_client, CancellationToken.None);
        return finished ? text.Length : -1;
    }

    /// <summary>A fresh stream per run: <see cref="ServerSentEvents.ReadAsync"/> disposes what it reads, like a response body.</summary>
    private MemoryStream Upstream() => new(_upstream, writable: false);
}
