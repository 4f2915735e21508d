using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tollgate.Tests.Infrastructure;

/// <summary>Keeps every log line, its structured values, scopes and exceptions, at every level.</summary>
internal sealed class CaptureLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ILogger CreateLogger(string categoryName) => new CaptureLogger(categoryName, lines, () => _scopes);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class CaptureLogger(string category, ConcurrentQueue<string> lines, Func<IExternalScopeProvider> scopes) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => scopes().Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = new System.Text.StringBuilder($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)}");
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values)
                {
                    line.Append($" | {key}={value}");
                }
            }

            scopes().ForEachScope((scope, builder) => builder.Append($" | scope={scope}"), line);
            if (exception is not null)
            {
                line.Append(" | ").Append(exception);
            }

            lines.Enqueue(line.ToString());
        }
    }
}
