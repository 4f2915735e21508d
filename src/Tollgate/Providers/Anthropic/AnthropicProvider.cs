using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tollgate.Gateway;
using Tollgate.Http;
using Tollgate.Providers.OpenAi;

namespace Tollgate.Providers.Anthropic;

/// <summary>
/// Anthropic's Messages API, translated both ways by <see cref="AnthropicTranslator"/>: the
/// client speaks OpenAI's format, Anthropic never sees it.
/// </summary>
internal sealed class AnthropicProvider(
    UpstreamClients clients, TimeProvider time, UpstreamRedactor redactor, TokenCounter tokens, IOptions<GatewayOptions> gateway) : IChatProvider
{
    private readonly Func<string, int> _countTokens = text => tokens.Count(text);

    public async Task<JsonObject> CompleteAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, stream: false, cancellationToken);
        JsonObject? answer;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            answer = await JsonNode.ParseAsync(body, cancellationToken: cancellationToken) as JsonObject;
        }
        catch (JsonException)
        {
            answer = null;
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            throw UpstreamErrors.FromTransport(exception, request.Provider.Name);
        }

        return answer is null
            ? throw new UpstreamException(502, $"{request.Provider.Name} answered with something that is not a message", retryable: true)
            : AnthropicTranslator.ToOpenAiCompletion(answer, time.GetUtcNow().ToUnixTimeSeconds(), ExcludesReasoning(request), _countTokens);
    }

    public async Task<IAsyncEnumerable<JsonObject>> StreamAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        var response = await SendAsync(request, stream: true, cancellationToken);
        return ReadChunksAsync(response, request.Provider.Name, ExcludesReasoning(request), cancellationToken);
    }

    private static bool ExcludesReasoning(ProviderRequest request) => request.Reasoning is { Exclude: true };

    private async Task<HttpResponseMessage> SendAsync(ProviderRequest request, bool stream, CancellationToken cancellationToken)
    {
        var provider = request.Provider;
        // A Messages request from an Anthropic client is passed on as it is, with this deployment's model and the reserved cap.
        var body = request.Anthropic is { } native ? (JsonObject)native.Body.DeepClone() : Translate(request);
        body["model"] = request.Deployment.Model;

        // The cap that was reserved, whichever of max_tokens and max_completion_tokens carried it.
        body["max_tokens"] = request.MaxTokens;
        body["stream"] = stream;
        var baseUrl = provider.BaseUrl!.TrimEnd('/');
        using var message = new HttpRequestMessage(HttpMethod.Post, baseUrl.EndsWith("/v1", StringComparison.Ordinal) ? baseUrl + "/messages" : baseUrl + "/v1/messages");
        message.Headers.TryAddWithoutValidation("anthropic-version", provider.AnthropicVersion);
        if (request.Anthropic?.Beta is { Length: > 0 } beta)
        {
            message.Headers.TryAddWithoutValidation("anthropic-beta", beta);
        }
        if (!string.IsNullOrEmpty(provider.ApiKey))
        {
            message.Headers.TryAddWithoutValidation("x-api-key", provider.ApiKey);
        }

        return await clients.SendJsonAsync(provider, message, UpstreamClients.Utf8(body), async response =>
        {
            var status = (int)response.StatusCode;
            var raw = await UpstreamErrors.ReadRawAsync(response, redactor, cancellationToken);
            var (mapped, text) = AnthropicTranslator.MapError(status, raw);
            return new UpstreamException(mapped, $"{provider.Name}: {redactor.Redact(text)}", retryable: status is 408 or 429 or >= 500, raw);
        }, cancellationToken);
    }

    private JsonObject Translate(ProviderRequest request)
    {
        try
        {
            // Reasoning becomes thinking only for a model that reasons; for the rest it is dropped, never an error.
            int? thinking = request.Reasons
                ? AnthropicTranslator.ThinkingBudget(request.Body, request.Reasoning!, request.MaxTokens, gateway.Value.ReasoningEffort)
                : null;
            return AnthropicTranslator.ToAnthropicRequest(request.Body, request.Deployment.Model, request.Model.MaxCompletionTokens, thinking);
        }
        catch (ArgumentException exception)
        {
            throw ApiException.BadRequest(exception.Message.Split(" (Parameter", 2)[0], exception.ParamName ?? "messages");
        }
    }

    private async IAsyncEnumerable<JsonObject> ReadChunksAsync(
        HttpResponseMessage response, string providerName, bool excludeReasoning, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var _ = response;
        var translator = new AnthropicStreamTranslator(time.GetUtcNow().ToUnixTimeSeconds(), excludeReasoning, _countTokens);
        var stopped = false;
        await foreach (var next in ServerSentEvents.ReadUpstreamAsync(response, providerName, cancellationToken))
        {
            JsonObject? data;
            try
            {
                data = JsonNode.Parse(next.Data) as JsonObject;
            }
            catch (JsonException)
            {
                data = null;
            }

            if (data is null)
            {
                throw new UpstreamException(502, $"{providerName} sent a malformed stream event", retryable: false, redactor.Raw(next.Data));
            }

            var eventType = next.Event ?? (data["type"] is JsonValue t && t.TryGetValue<string>(out var type) ? type : "");
            if (eventType == "error" && data["error"] is JsonObject { } error && error["message"] is JsonValue message &&
                message.GetValueKind() == JsonValueKind.String)
            {
                // Redacted whole before the translator shortens it.
                error["message"] = redactor.Redact(message.GetValue<string>());
            }

            IReadOnlyList<JsonObject> chunks;
            try
            {
                chunks = translator.Translate(eventType, data);
            }
            catch (AnthropicStreamException exception)
            {
                throw new UpstreamException(exception.Status, $"{providerName} reported an error mid-stream: {redactor.Redact(exception.Message)}",
                    retryable: exception.Status is 408 or 429 or 503);
            }

            foreach (var chunk in chunks)
            {
                yield return chunk;
            }

            if (eventType == "message_stop")
            {
                stopped = true;
                break;
            }
        }

        if (!stopped)
        {
            throw new UpstreamException(502, "Upstream connection lost", retryable: true);
        }
    }
}
