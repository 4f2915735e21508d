using System.Diagnostics;
using Tollgate.Bench.Load;

namespace Tollgate.Bench.Stack;

/// <summary>Waits until a target answers a real chat completion on every endpoint.</summary>
internal static class Readiness
{
    public static async Task WaitAsync(HttpClient client, Target target, Uri? readyUrl, Func<bool> exited, Func<string> log,
        RequestTally tally, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        if (readyUrl is not null)
        {
            await PollAsync(() => new HttpRequestMessage(HttpMethod.Get, readyUrl), counts: false);
        }

        foreach (var endpoint in target.Endpoints.Values)
        {
            await PollAsync(() => ChatRequests.Create(endpoint, stream: false), counts: true);
        }

        async Task PollAsync(Func<HttpRequestMessage> request, bool counts)
        {
            string? last = null;
            while (true)
            {
                if (exited())
                {
                    throw new InvalidOperationException($"{target.Name} exited while starting:\n{log()}");
                }

                if (deadline.Elapsed > TimeSpan.FromSeconds(90))
                {
                    throw new TimeoutException($"{target.Name} was not ready in 90 s (last answer: {last}):\n{log()}");
                }

                try
                {
                    using var message = request();
                    using var response = await client.SendAsync(message, cancellationToken);
                    last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
                    if (response.IsSuccessStatusCode)
                    {
                        if (counts)
                        {
                            tally.Add(target.Name, 1);
                        }

                        return;
                    }
                }
                catch (HttpRequestException exception)
                {
                    last = exception.Message;
                }

                await Task.Delay(200, cancellationToken);
            }
        }
    }
}
