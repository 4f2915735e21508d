using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Tollgate.Accounts;

namespace Tollgate.Cli;

/// <summary>On a start with no accounts, says how to create the owner and a first key.</summary>
internal static class FirstRun
{
    public static void PrintWelcome(WebApplication app) => _ = Task.Run(async () =>
    {
        var accounts = await app.Services.GetRequiredService<IAccountStore>().CountAsync(CancellationToken.None);
        if (accounts > 0)
        {
            return;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? "http://localhost:5000";
        Console.WriteLine($"""

            Welcome to Tollgate. There are no accounts yet. In another terminal, from the repository root:

              dotnet run --project src/Tollgate -- accounts create --email you@example.com
              dotnet run --project src/Tollgate -- keys create --email you@example.com --name "first key"

            then call the API with the key it prints:

              curl {address}/api/v1/api-keys -H "Authorization: Bearer sk-tg-v1-..."

            """);
    });
}
