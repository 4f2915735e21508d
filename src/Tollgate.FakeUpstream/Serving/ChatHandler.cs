using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>
/// Answers a chat request, top to bottom: read and record → check credentials and fields → pick
/// the scenario → wait for the first byte → fault or answer (JSON, or SSE flushed once per event).
/// </summary>
internal sealed class ChatHandler(FakeUpstreamOptions options, RequestLog log)
{
    private const string JsonContentType = "application/json";
    private const string SseContentType = "text/event-stream; charset=utf-8";

    // Kestrel's abort drops output it has not handed to the socket yet; give what was flushed
    // time to leave, so that the client really receives the first half before the cut.
    private static readonly TimeSpan CutGrace = TimeSpan.FromMilliseconds(100);

    private readonly AnswerCache _answers = new();

    // Counters for FailFirst, per scenario instance (reference identity, not record equality).
    private readonly ConditionalWeakTable<Scenario, StrongBox<int>> _served = new();
    private long _sequence;

    public Task OpenAiAsync(HttpContext context) => HandleAsync(context, WireFormat.OpenAi);

    public Task AnthropicAsync(HttpContext context) => HandleAsync(context, WireFormat.Anthropic);

    /// <summary>
    /// OpenAI's <c>POST /v1/embeddings</c>: a vector of <c>dimensions</c> (8 by default) per input, the same for the same
    /// text, base64 when asked, and usage counting one token per four characters (at least one per input).
    /// </summary>
    public async Task EmbeddingsAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        System.Text.Json.Nodes.JsonObject? request;
        try
        {
            request = System.Text.Json.Nodes.JsonNode.Parse(body) as System.Text.Json.Nodes.JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            request = null;
        }

        var model = request?["model"]?.GetValue<string>();
        if (options.RecordRequests)
        {
            log.Add(Received(context, model, body));
        }

        var inputs = request?["input"] switch
        {
            System.Text.Json.Nodes.JsonArray list => list.Select(i => i?.GetValue<string>() ?? "").ToArray(),
            System.Text.Json.Nodes.JsonValue one => [one.GetValue<string>()],
            _ => null,
        };
        if (model is null || inputs is null)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsJsonAsync(new { error = new { message = "model and input are required", type = "invalid_request_error" } });
            return;
        }

        var dimensions = request!["dimensions"]?.GetValue<int>() ?? 8;
        var base64 = request["encoding_format"]?.GetValue<string>() == "base64";
        var data = new System.Text.Json.Nodes.JsonArray();
        var tokens = 0;
        for (var i = 0; i < inputs.Length; i++)
        {
            tokens += Math.Max(1, inputs[i].Length / 4);
            var seed = inputs[i].Aggregate(17, (h, c) => unchecked(h * 31 + c));
            var vector = Enumerable.Range(0, dimensions).Select(d => (float)Math.Sin(seed + d)).ToArray();
            System.Text.Json.Nodes.JsonNode embedding = base64
                ? Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()))
                : new System.Text.Json.Nodes.JsonArray([.. vector.Select(v => (System.Text.Json.Nodes.JsonNode)v)]);
            data.Add(new System.Text.Json.Nodes.JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = embedding });
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new System.Text.Json.Nodes.JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = model,
            ["usage"] = new System.Text.Json.Nodes.JsonObject { ["prompt_tokens"] = tokens, ["total_tokens"] = tokens },
        }.ToJsonString());
    }

    /// <summary>Records a request that has no body worth reading (GET endpoints).</summary>
    public void Record(HttpContext context)
    {
        if (options.RecordRequests)
        {
            log.Add(Received(context, model: null, body: ""));
        }
    }

    private async Task HandleAsync(HttpContext context, WireFormat format)
    {
        var aborted = context.RequestAborted;
        var outcome = Outcome.Running;
        try
        {
            outcome = await AnswerAsync(context, format, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away (or the server stopped and dropped the connection): counted below.
        }
        catch (IOException) when (aborted.IsCancellationRequested)
        {
            // The connection broke while the request body was being read.
        }
        finally
        {
            if (outcome == Outcome.Running && aborted.IsCancellationRequested)
            {
                log.CountCancelled();
            }
        }
    }

    private async Task<Outcome> AnswerAsync(HttpContext context, WireFormat format, CancellationToken aborted)
    {
        var request = await ReadAsync(context, aborted);
        var response = context.Response;

        if (format.RejectCredentials(context.Request) is { } credentialsError)
        {
            WriteJson(response, StatusCodes.Status401Unauthorized, format.ErrorBody(StatusCodes.Status401Unauthorized, credentialsError));
            return Outcome.Answered;
        }

        if ((request.SyntaxError ?? format.Validate(request)) is { } invalid)
        {
            WriteJson(response, StatusCodes.Status400BadRequest, format.ErrorBody(StatusCodes.Status400BadRequest, invalid));
            return Outcome.Answered;
        }

        var scenario = options.ScenarioFor(request.Model);
        if (scenario.FirstByteDelay > TimeSpan.Zero)
        {
            await Task.Delay(scenario.FirstByteDelay, options.TimeProvider, aborted);
        }

        var fault = FaultFor(scenario);
        switch (fault)
        {
            case Fault.Status400 or Fault.Status429 or Fault.Status500 or Fault.Status529:
            case Fault.ErrorMidStream when !request.Stream:
                var status = StatusOf(fault);
                if (fault == Fault.Status429)
                {
                    response.Headers.RetryAfter = "1";
                }

                WriteJson(response, status, scenario.ErrorMessage is null
                    ? format.FaultBody(status)
                    : format.ErrorBody(status, ErrorMessage(scenario, context.Request, status)));
                return Outcome.Answered;
            case Fault.Hang:
                await Task.Delay(Timeout.InfiniteTimeSpan, options.TimeProvider, aborted);
                break;
            default:
                break;
        }

        // Anthropic thinks when the request enables it, whatever the scenario says (after FaultFor: it counts by instance).
        if (format == WireFormat.Anthropic && scenario.Thinking != request.ThinkingEnabled)
        {
            scenario = scenario with { Thinking = request.ThinkingEnabled };
        }

        var numbers = Answer.Numbers(
            Interlocked.Increment(ref _sequence),
            options.TimeProvider.GetUtcNow().ToUnixTimeSeconds(),
            request.PromptWords,
            scenario);

        return request.Stream
            ? await StreamAsync(context, format, _answers.Sse(format, scenario, request.Model!, request.IncludeUsage), numbers, scenario, fault, aborted)
            : await WriteAnswerAsync(context, _answers.Json(format, scenario, request.Model!), numbers, fault, aborted);
    }

    private async Task<ParsedRequest> ReadAsync(HttpContext context, CancellationToken aborted)
    {
        var reader = context.Request.BodyReader;
        var result = await reader.ReadAsync(aborted);
        while (!result.IsCompleted)
        {
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await reader.ReadAsync(aborted);
        }

        var body = result.Buffer;
        var request = ParsedRequest.Parse(body);
        if (options.RecordRequests)
        {
            log.Add(Received(context, request.Model, Encoding.UTF8.GetString(body)));
        }

        reader.AdvanceTo(body.End);
        return request;
    }

    private static async Task<Outcome> WriteAnswerAsync(HttpContext context, Template body, ResponseNumbers numbers, Fault fault, CancellationToken aborted)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = JsonContentType;
        switch (fault)
        {
            case Fault.CutMidStream:
                // Promise the whole body, send half of it, then drop the connection.
                var buffer = new ArrayBufferWriter<byte>();
                body.WriteTo(buffer, numbers);
                response.ContentLength = buffer.WrittenCount;
                await response.BodyWriter.WriteAsync(buffer.WrittenMemory[..(buffer.WrittenCount / 2)], aborted);
                await Task.Delay(CutGrace, aborted);
                context.Abort();
                return Outcome.AbortedByServer;
            case Fault.MalformedSse:
                WriteJson(response, StatusCodes.Status200OK, "{\"broken\": "u8.ToArray());
                return Outcome.Answered;
            default:
                // The whole body is copied into the response pipe; Kestrel sends it when the handler returns.
                response.ContentLength = body.LengthFor(numbers);
                body.WriteTo(response.BodyWriter, numbers);
                return Outcome.Answered;
        }
    }

    private async Task<Outcome> StreamAsync(HttpContext context, WireFormat format, StreamedAnswer answer, ResponseNumbers numbers, Scenario scenario,
        Fault fault, CancellationToken aborted)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = SseContentType;
        response.Headers.CacheControl = "no-cache";
        var writer = response.BodyWriter;

        foreach (var opening in answer.Opening)
        {
            await SendAsync(writer, opening, numbers, aborted);
        }

        var chunks = fault switch
        {
            Fault.CutMidStream => answer.Chunks.Length / 2,
            Fault.MalformedSse or Fault.ErrorMidStream => Math.Min(2, answer.Chunks.Length),
            _ => answer.Chunks.Length,
        };
        for (var i = 0; i < chunks; i++)
        {
            if (i > 0 && scenario.ChunkGap > TimeSpan.Zero)
            {
                await Task.Delay(scenario.ChunkGap, options.TimeProvider, aborted);
            }

            await SendAsync(writer, answer.Chunks[i], numbers, aborted);
        }

        if (fault == Fault.CutMidStream)
        {
            await Task.Delay(CutGrace, aborted);
            context.Abort();
            return Outcome.AbortedByServer;
        }

        if (fault == Fault.ErrorMidStream)
        {
            await writer.WriteAsync(format.ErrorEvent(ErrorMessage(scenario, context.Request, StatusCodes.Status500InternalServerError)), aborted);
            return Outcome.Answered;
        }

        foreach (var closing in fault == Fault.MalformedSse ? [answer.Malformed] : answer.Closing)
        {
            await SendAsync(writer, closing, numbers, aborted);
        }

        return Outcome.Answered;
    }

    /// <summary>Writes one SSE event and flushes it; a flush into a closed connection counts as a cancellation.</summary>
    private static async ValueTask SendAsync(PipeWriter writer, Template sseEvent, ResponseNumbers numbers, CancellationToken aborted)
    {
        sseEvent.WriteTo(writer, numbers);
        var flushed = await writer.FlushAsync(aborted);
        if (flushed.IsCanceled || flushed.IsCompleted || aborted.IsCancellationRequested)
        {
            throw new OperationCanceledException(aborted);
        }
    }

    private static void WriteJson(HttpResponse response, int status, byte[] body)
    {
        response.StatusCode = status;
        response.ContentType = JsonContentType;
        response.ContentLength = body.Length;
        response.BodyWriter.Write(body);
    }

    private static string ErrorMessage(Scenario scenario, HttpRequest request, int status)
    {
        if (scenario.ErrorMessage is null)
        {
            return WireFormat.FaultMessage(status);
        }

        var bearer = request.Headers.Authorization.ToString();
        var credentials = string.Join(' ', new[]
        {
            bearer.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? bearer["Bearer ".Length..] : bearer,
            request.Headers["x-api-key"].ToString(),
        }.Where(c => c.Length > 0));
        return scenario.ErrorMessage.Replace("{credentials}", credentials, StringComparison.Ordinal);
    }

    private Fault FaultFor(Scenario scenario)
    {
        if (scenario.Fault == Fault.None || scenario.FailFirst == 0)
        {
            return scenario.Fault;
        }

        var served = Interlocked.Increment(ref _served.GetValue(scenario, static _ => new StrongBox<int>()).Value);
        return served <= scenario.FailFirst ? scenario.Fault : Fault.None;
    }

    private static int StatusOf(Fault fault) => fault switch
    {
        Fault.Status400 => StatusCodes.Status400BadRequest,
        Fault.Status429 => StatusCodes.Status429TooManyRequests,
        Fault.Status529 => 529,
        _ => StatusCodes.Status500InternalServerError,
    };

    private ReceivedRequest Received(HttpContext context, string? model, string body)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in context.Request.Headers)
        {
            headers[name] = values.ToString();
        }

        return new ReceivedRequest(
            context.Request.Method, context.Request.Path.Value ?? "", model, body, headers, options.TimeProvider.GetUtcNow());
    }

    private enum Outcome
    {
        Running,
        Answered,
        AbortedByServer,
    }
}
