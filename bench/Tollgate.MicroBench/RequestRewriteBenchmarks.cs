using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Tollgate.Gateway;
using Tollgate.Models;
using Tollgate.Providers;
using Tollgate.Providers.OpenAi;

namespace Tollgate.MicroBench;

/// <summary>
/// The request on its way in: parse and validate the client's body (<see cref="ChatRequest.ReadAsync"/>),
/// count its prompt tokens for the reservation, and rewrite it for the upstream
/// (<see cref="OpenAiProvider.WriteBody"/>, the UTF-8 the upstream gets).
/// Input: a typical ~1 KB streamed request with 3 messages.
/// </summary>
[MemoryDiagnoser]
public class RequestRewriteBenchmarks
{
    private readonly GatewayOptions _limits = new();
    private readonly ModelDefinition _model = Inputs.Model();
    private readonly DeploymentDefinition _deployment = Inputs.Deployment();
    private readonly ProviderSettings _provider = Inputs.Provider();
    private readonly TokenCounter _tokens = new();
    private MemoryStream _body = null!;
    private DefaultHttpContext _context = null!;
    private ChatRequest _parsed = null!;
    private ProviderRequest _upstream = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        var bytes = Inputs.ChatRequestBody();
        _body = new MemoryStream(bytes, writable: false);
        _context = new DefaultHttpContext();
        _context.Request.Method = "POST";
        _context.Request.ContentType = "application/json";
        _context.Request.ContentLength = bytes.Length;
        _context.Request.Body = _body;

        // The body as the gateway holds it when it rewrites: parsed and validated (nodes read once).
        _parsed = await ChatRequest.ReadAsync(_context.Request, _limits, CancellationToken.None);
        _upstream = new ProviderRequest(_parsed.Body, _model, _deployment, _provider);
        _tokens.CountPrompt(_parsed.Body); // loads the vocabulary once, outside the measurement
    }

    [GlobalCleanup]
    public void Cleanup() => _body.Dispose();

    [Benchmark]
    public Task ParseAndValidate()
    {
        _body.Position = 0;
        return ChatRequest.ReadAsync(_context.Request, _limits, CancellationToken.None);
    }

    [Benchmark]
    public long CountPromptTokens() => _tokens.CountPrompt(_parsed.Body).Tokens;

    [Benchmark]
    public ReadOnlyMemory<byte> RewriteAndSerialize() => OpenAiProvider.WriteBody(_upstream, _parsed.Stream);

    [Benchmark]
    public async Task<ReadOnlyMemory<byte>> ParseValidateRewriteSerialize()
    {
        _body.Position = 0;
        var request = await ChatRequest.ReadAsync(_context.Request, _limits, CancellationToken.None);
        return OpenAiProvider.WriteBody(new ProviderRequest(request.Body, _model, _deployment, _provider), request.Stream);
    }
}
