using System.Net;
using System.Net.Sockets;

namespace Tollgate.Bench.Infrastructure;

internal static class Ports
{
    /// <summary>A port that was free a moment ago: bind 127.0.0.1:0, read the port, close.</summary>
    public static int Free()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
