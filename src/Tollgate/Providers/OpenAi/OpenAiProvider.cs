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
internal sealed class OpenAiProvider(UpstreamClients clients) : IChatProvider
{
    public async Task<JsonObject> CompleteAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, stream: false, cancellationToken);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return await JsonNode.ParseAsync(body, cancellationToken: cancellationToken) as JsonObject
                ?? throw new JsonException("not an object");
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
        return ReadChunksAsync(response, request.Provider.Name, cancellationToken);
    }

    /// <summary>The request body the upstream gets: the client's, with the model name rewritten.</summary>
    internal static JsonObject RewriteBody(ProviderRequest request, bool stream)
    {
        var body = request.Body.DeepClone().AsObject();
        body["model"] = request.Deployment.Model;
        body.Remove("models");
        body.Remove("provider");
        if (stream)
        {
            body["stream"] = true;
            var options = body["stream_options"] as JsonObject ?? new JsonObject();
            options["include_usage"] = true;
            body["stream_options"] = options;
        }
        else
        {
            body.Remove("stream_options"); // OpenAI refuses it on non-streamed calls
        }

        return body;
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

        return await clients.SendJsonAsync(provider, message, RewriteBody(request, stream),
            response => UpstreamErrors.FromResponseAsync(response, provider.Name, cancellationToken), cancellationToken);
    }

    private static async IAsyncEnumerable<JsonObject> ReadChunksAsync(
        HttpResponseMessage response, string providerName, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var _ = response;
        var contentType = response.Content.Headers.ContentType?.MediaType;
        if (contentType is not null && !contentType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            var raw = await UpstreamErrors.ReadRawAsync(response, cancellationToken);
            throw new UpstreamException(502, $"{providerName} answered a stream request with {contentType}, not an event stream", retryable: false, raw);
        }

        var finished = false;
        await foreach (var next in ServerSentEvents.ReadUpstreamAsync(response, providerName, cancellationToken))
        {
            if (next.Data == "[DONE]")
            {
                yield break;
            }

            var chunk = ParseChunk(next.Data, providerName);
            finished |= chunk["choices"] is JsonArray choices &&
                choices.Any(c => c?["finish_reason"] is JsonValue reason && reason.GetValueKind() == JsonValueKind.String);
            yield return chunk;
        }

        // The connection ended without [DONE]. After a finish_reason that is only untidy; before it, the answer was cut.
        if (!finished)
        {
            throw new UpstreamException(502, "Upstream connection lost", retryable: true);
        }
    }

    internal static JsonObject ParseChunk(string data, string providerName)
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
            throw new UpstreamException(502, $"{providerName} sent a malformed stream event", retryable: false,
                UpstreamErrors.Redact(data.Length <= 1024 ? data : data[..1024]));
        }

        if (chunk["error"] is JsonNode error)
        {
            var message = error is JsonObject o && o["message"] is JsonValue m && m.TryGetValue<string>(out var text) ? text : "error";
            throw new UpstreamException(502, $"{providerName} reported an error mid-stream: {UpstreamErrors.Redact(message)}", retryable: false,
                UpstreamErrors.Redact(data.Length <= 1024 ? data : data[..1024]));
        }

        return chunk;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
internal sealed partial class ProviderJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
