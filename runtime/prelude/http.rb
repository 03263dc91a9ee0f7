# http: web requests from inside a fibril (loaded after fs.rb).
#
# http.req is one system call ("http.req") run by the node with libcurl,
# never by the worker (whose sandbox has no socket). The node answers
# {"ok" => response} or {"error" => {"code", "field", "message"}}; an
# error raises M31::HTTPError. A status that is not 2xx is an answer, not
# an error.
#
#   res = http.req("https://example.org/", timeout_ms: 5000)
#   res.status        # 200
#   res.content_type  # "text/html" (media type only, lower-case)
#   res.urls          # absolute http(s) URLs of the page's links
module M31
  # A request failed: +code+ is "bad_request" (a bad URL or option),
  # "unreachable" (DNS, connect, TLS, too many redirects, node stopping),
  # "too_large" (max_bytes, or more than a fibril can receive) or
  # "timeout"; +field+ is "url" when the URL is at fault, else "".
  class HTTPError < Error; end

  module HTTP
    # The answer of http.req. +content+ is a String: UTF-8 text, or the
    # bytes (a binary String) when the body is not valid UTF-8. +headers+
    # has lower-case names; +charset+ is the Content-Type's charset or nil;
    # +urls+ is [] unless the answer is HTML.
    class Response
      attr_reader :status, :url, :content_type, :charset, :headers,
                  :content, :urls

      def initialize(h)
        @status = h["status"]
        @url = h["url"]
        @content_type = h["content_type"]
        @charset = h["charset"]
        @headers = h["headers"]
        @content = h["content"]
        @urls = h["urls"]
      end

      def inspect
        "#<M31::HTTP::Response #{@status} #{@content_type} #{@url}>"
      end
    end

    # Options: timeout_ms (default 30000, at most 120000), max_bytes
    # (default 64 MiB, at most 256 MiB; a fibril receives at most 16 MiB
    # of answer), method ("GET" or "HEAD"), headers ({name => value}).
    # Follows up to 5 redirects, http and https only.
    def self.req(url, opts = {})
      raise TypeError, "http.req options must be a Hash" unless opts.is_a?(Hash)
      o = {}
      opts.each { |k, v| o[k.to_s] = v }
      if o["headers"].is_a?(Hash)
        h = {}
        o["headers"].each { |k, v| h[k.to_s] = v.to_s }
        o["headers"] = h
      end
      o["method"] = o["method"].to_s.upcase if o["method"].is_a?(Symbol)
      r = M31.call("http.req", url, o)
      if (e = r["error"])
        M31::HTTPError.raise_from(e)
      end
      Response.new(r["ok"])
    end
  end
end

module Kernel
  # The http module: http.req(url, opts).
  def http
    M31::HTTP
  end
end
