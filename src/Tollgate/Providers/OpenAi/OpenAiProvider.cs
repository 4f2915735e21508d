using System.Buffers;
using System.Collections.Frozen;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tollgate.Providers.OpenAi;

/// <summary>
/// OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio, OpenRouter...).
/// Only what must change is rewritten: the model name, Tollgate's own fields removed, and
/// <c>stream_options.include_usage</c> switched on for streams. The stream is read event by
/// event as it arrives.
/// </summary>
internal sealed class OpenAiProvider(UpstreamClients clients, UpstreamRedactor redactor) : IChatProvider, IEmbeddingProvider
{
    /// <summary><c>POST {BaseUrl}/embeddings</c> with the client's body and the deployment's model.</summary>
    public async Task<JsonObject> EmbedAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        var provider = request.Provider;
        var body = (JsonObject)request.Body.DeepClone();
        body["model"] = request.Deployment.Model;
        using var message = new HttpRequestMessage(HttpMethod.Post, provider.BaseUrl!.TrimEnd('/') + "/embeddings");
        message.Headers.Accept.ParseAdd("application/json");
        if (!string.IsNullOrEmpty(provider.ApiKey))
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", provider.ApiKey);
        }

        using var response = await clients.SendJsonAsync(provider, message, UpstreamClients.Utf8(body),
            failed => UpstreamErrors.FromResponseAsync(failed, provider.Name, redactor, cancellationToken), cancellationToken);
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            return await JsonNode.ParseAsync(stream, cancellationToken: cancellationToken) is JsonObject { } answer && answer["data"] is JsonArray
                ? answer
                : throw new JsonException("not a list of embeddings");
        }
        catch (JsonException)
        {
            throw new UpstreamException(502, $"{provider.Name} answered with something that is not a list of embeddings", retryable: true);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            throw UpstreamErrors.FromTransport(exception, provider.Name);
        }
    }

    public async Task<JsonObject> CompleteAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, stream: false, cancellationToken);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var answer = await JsonNode.ParseAsync(body, cancellationToken: cancellationToken) as JsonObject
                ?? throw new JsonException("not an object");
            Reasoning.Normalise(answer, "message", request.Reasoning is { Exclude: true });
            return answer;
        }
        catch (JsonException)
        {
            throw new UpstreamException(502, $"{request.Provider.Name} answered with something that is not a chat completion", retryable: true);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            throw UpstreamErrors.FromTransport(exception, request.Provider.Name);
        }
    }

    public async Task<IAsyncEnumerable<JsonObject>> StreamAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        var response = await SendAsync(request, stream: true, cancellationToken);
        return ReadChunksAsync(response, request.Provider.Name, redactor, request.Reasoning is { Exclude: true }, cancellationToken);
    }

    private static readonly JsonWriterOptions BodyWriterOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>
    /// Fields that make the upstream charge more than its per-token prices, or bill tokens that the
    /// completion cap does not bound: priority tiers, audio output, predicted outputs (rejected
    /// prediction tokens are billed), paid web search and plugins. Tollgate cannot price them, so
    /// they are never sent on (the contract: unknown or unsupported fields are ignored).
    /// </summary>
    internal static readonly FrozenSet<string> UnpricedFields = FrozenSet.Create(StringComparer.Ordinal,
        "service_tier", "audio", "modalities", "prediction", "web_search_options", "plugins");

    /// <summary>
    /// The request body the upstream gets: the client's, written straight out as UTF-8 with the
    /// model name rewritten, Tollgate's own fields (<c>models</c>, <c>provider</c>) and
    /// <see cref="UnpricedFields"/> left out, the completion cap that was reserved in one field
    /// (the one the client used, else the provider's <c>MaxTokensField</c>), and for a stream
    /// <c>stream: true</c> and <c>stream_options.include_usage</c> set. Nothing is copied first.
    /// </summary>
    internal static ReadOnlyMemory<byte> WriteBody(ProviderRequest request, bool stream)
    {
        var output = new ArrayBufferWriter<byte>(1024);
        using var json = new Utf8JsonWriter(output, BodyWriterOptions);
        json.WriteStartObject();
        bool wroteModel = false, wroteStream = false, wroteOptions = false;
        var capField = request.Body["max_completion_tokens"] is not null ? "max_completion_tokens"
            : request.Body["max_tokens"] is not null ? "max_tokens"
            : request.Provider.MaxTokensField;
        json.WriteNumber(capField, request.MaxTokens);
        if (request.Reasons && Reasoning.Effort(request.Reasoning!, request.MaxTokens) is { } effort)
        {
            json.WriteString("reasoning_effort", effort);
        }

        foreach (var (name, value) in request.Body)
        {
            switch (name)
            {
                case "model":
                    json.WriteString(name, request.Deployment.Model);
                    wroteModel = true;
                    break;
                case "models" or "provider" or "max_tokens" or "max_completion_tokens":
                    break;
                case var reasoning when Gateway.ReasoningRequest.Fields.Contains(reasoning):
                    // OpenRouter's shape, which OpenAI refuses: passed on as reasoning_effort above, for models that reason.
                    break;
                case "messages" when value is JsonArray messages:
                    json.WritePropertyName(name);
                    Reasoning.WriteMessages(json, messages);
                    break;
                case var unpriced when UnpricedFields.Contains(unpriced):
                    break;
                case "stream" when stream:
                    json.WriteBoolean(name, true);
                    wroteStream = true;
                    break;
                case "stream_options":
                    // OpenAI refuses it on non-streamed calls; on streams, usage is always asked for.
                    if (stream)
                    {
                        WriteStreamOptions(json, value as JsonObject);
                        wroteOptions = true;
                    }

                    break;
                default:
                    json.WritePropertyName(name);
                    if (value is null)
                    {
                        json.WriteNullValue();
                    }
                    else
                    {
                        value.WriteTo(json);
                    }

                    break;
            }
        }

        if (!wroteModel)
        {
            json.WriteString("model", request.Deployment.Model);
        }

        if (stream && !wroteStream)
        {
            json.WriteBoolean("stream", true);
        }

        if (stream && !wroteOptions)
        {
            WriteStreamOptions(json, null);
        }

        json.WriteEndObject();
        json.Flush();
        return output.WrittenMemory;

        static void WriteStreamOptions(Utf8JsonWriter json, JsonObject? options)
        {
            json.WriteStartObject("stream_options");
            foreach (var (name, value) in options ?? [])
            {
                if (name != "include_usage")
                {
                    json.WritePropertyName(name);
                    if (value is null)
                    {
                        json.WriteNullValue();
                    }
                    else
                    {
                        value.WriteTo(json);
                    }
                }
            }

            json.WriteBoolean("include_usage", true);
            json.WriteEndObject();
        }
    }

    private async Task<HttpResponseMessage> SendAsync(ProviderRequest request, bool stream, CancellationToken cancellationToken)
    {
        var provider = request.Provider;
        using var message = new HttpRequestMessage(HttpMethod.Post, provider.BaseUrl!.TrimEnd('/') + "/chat/completions");
        message.Headers.Accept.ParseAdd(stream ? "text/event-stream" : "application/json");
        if (!string.IsNullOrEmpty(provider.ApiKey))
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", provider.ApiKey);
        }

        return await clients.SendJsonAsync(provider, message, WriteBody(request, stream),
            response => UpstreamErrors.FromResponseAsync(response, provider.Name, redactor, cancellationToken), cancellationToken);
    }

    private static async IAsyncEnumerable<JsonObject> ReadChunksAsync(
        HttpResponseMessage response, string providerName, UpstreamRedactor redactor, bool excludeReasoning,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var _ = response;
        var contentType = response.Content.Headers.ContentType?.MediaType;
        if (contentType is not null && !contentType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            var raw = await UpstreamErrors.ReadRawAsync(response, redactor, cancellationToken);
            throw new UpstreamException(502, $"{providerName} answered a stream request with {contentType}, not an event stream", retryable: false, raw);
        }

        var finished = false;
        await foreach (var next in ServerSentEvents.ReadUpstreamAsync(response, providerName, cancellationToken))
        {
            if (next.DataIs("[DONE]"u8))
            {
                yield break;
            }

            var chunk = ParseChunk(next.Utf8Data.Span, providerName, redactor);
            Reasoning.Normalise(chunk, "delta", excludeReasoning);
            finished |= HasFinishReason(chunk);
            yield return chunk;
        }

        // The connection ended without [DONE]. After a finish_reason that is only untidy; before it, the answer was cut.
        if (!finished)
        {
            throw new UpstreamException(502, "Upstream connection lost", retryable: true);
        }
    }

    private static bool HasFinishReason(JsonObject chunk)
    {
        if (chunk["choices"] is JsonArray choices)
        {
            foreach (var choice in choices)
            {
                if (choice?["finish_reason"] is JsonValue reason && reason.GetValueKind() == JsonValueKind.String)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>One stream event's JSON, parsed straight from its UTF-8 bytes.</summary>
    internal static JsonObject ParseChunk(ReadOnlySpan<byte> data, string providerName, UpstreamRedactor redactor)
    {
        JsonObject? chunk;
        try
        {
            chunk = JsonNode.Parse(data) as JsonObject;
        }
        catch (JsonException)
        {
            chunk = null;
        }

        if (chunk is null)
        {
            throw new UpstreamException(502, $"{providerName} sent a malformed stream event", retryable: false, redactor.Raw(data));
        }

        if (chunk["error"] is JsonNode error)
        {
            var message = error is JsonObject o && o["message"] is JsonValue m && m.TryGetValue<string>(out var text) ? text : "error";
            throw new UpstreamException(502, $"{providerName} reported an error mid-stream: {redactor.Redact(message)}", retryable: false,
                redactor.Raw(data));
        }

        return chunk;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
internal sealed partial class ProviderJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
