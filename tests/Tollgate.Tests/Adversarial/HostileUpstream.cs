using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// An upstream that bills as a real one does, at its worst: a real Kestrel server on port 0 whose
/// answer each test writes (<see cref="Answer"/>), keeping every body Tollgate sent it. Both
/// OpenAI's <c>/v1/chat/completions</c> and Anthropic's <c>/v1/messages</c>.
/// </summary>
internal sealed class HostileUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HostileUpstream(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>What the upstream answers; receives the request's parsed body. Default: a 500.</summary>
    public Func<HttpContext, JsonObject, Task> Answer { get; set; } = (context, _) =>
    {
        context.Response.StatusCode = 500;
        return context.Response.WriteAsync("""{"error":{"message":"no answer configured"}}""");
    };

    /// <summary>Every body received, in order.</summary>
    public ConcurrentQueue<JsonObject> Received { get; } = new();

    public JsonObject Last => Received.Last();

    public static async Task<HostileUpstream> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.Zero);
        var app = builder.Build();
        HostileUpstream? self = null;
        app.MapPost("/v1/chat/completions", context => self!.HandleAsync(context));
        app.MapPost("/v1/messages", context => self!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new HostileUpstream(app, new Uri(address));
        return self;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))!;
        Received.Enqueue(body);
        await Answer(context, body);
    }

    /// <summary>Writes SSE events (<c>data: …</c>, or <c>event: …</c> + <c>data: …</c> for Anthropic), flushing each.</summary>
    public static async Task WriteEventsAsync(HttpContext context, IEnumerable<string> events)
    {
        context.Response.ContentType = "text/event-stream";
        foreach (var e in events)
        {
            await context.Response.WriteAsync(e + "\n\n", Encoding.UTF8, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    /// <summary>Drops the connection: what a crashed upstream or a cut network looks like.</summary>
    public static async Task CutAsync(HttpContext context)
    {
        await context.Response.Body.FlushAsync();
        await Task.Delay(50);
        context.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
