using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Tollgate.Accounts;

namespace Tollgate.Dashboard;

/// <summary>
/// On a start with no accounts, makes the one-time owner link (an owner invite, the previous one revoked)
/// and prints it with the command-line way beside it. The link is printed, never logged.
/// </summary>
internal sealed class FirstRunLink(InviteService invites, IServer server, IOptions<DashboardOptions> options)
{
    private string _printed = "";

    /// <summary>Everything printed so far (for tests).</summary>
    public string Printed => Volatile.Read(ref _printed);

    /// <summary>Where the welcome goes; the console unless a test says otherwise.</summary>
    public TextWriter Output { get; set; } = Console.Out;

    public async Task PrintAsync(CancellationToken cancellationToken)
    {
        var created = await invites.CreateFirstRunInviteAsync(cancellationToken);
        if (created is null)
        {
            return;
        }

        var address = BaseUrl(options.Value, server);
        var text = $"""

            Welcome to Tollgate. There are no accounts yet. Create the owner account in your browser
            with this one-time link (it works once, for {InviteService.FirstRunLifetime.TotalDays:0} days, until the next start):

              {address}/signup?invite={created.Token}

            Or, from the command line, in another terminal from the repository root:

              dotnet run --project src/Tollgate -- accounts create --email you@example.com
              dotnet run --project src/Tollgate -- keys create --email you@example.com --name "first key"

            then call the API with the key it prints:

              curl {address}/api/v1/api-keys -H "Authorization: Bearer sk-tg-v1-..."

            """;
        Volatile.Write(ref _printed, _printed + text);
        await Output.WriteLineAsync(text);
        await Output.FlushAsync(cancellationToken);
    }

    /// <summary>The configured public address, else the first one the server listens on (0.0.0.0 and [::] shown as localhost).</summary>
    internal static string BaseUrl(DashboardOptions options, IServer server)
    {
        if (options.PublicBaseUrl is { Length: > 0 } configured)
        {
            return configured.TrimEnd('/');
        }

        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://localhost:5000";
        return address.Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal)
            .Replace("://[::]", "://localhost", StringComparison.Ordinal)
            .Replace("://+", "://localhost", StringComparison.Ordinal)
            .Replace("://*", "://localhost", StringComparison.Ordinal)
            .TrimEnd('/');
    }
}
