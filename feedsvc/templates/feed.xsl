<?xml version="1.0" encoding="UTF-8"?>
<!--
  How an RSS 2.0 or Atom 1.0 feed of feedsvc looks in a web browser.

  Every RSS and Atom feed starts with <?xml-stylesheet href="../feed.xsl" type="text/xsl"?>:
  a browser that opens a feed applies this XSLT 1.0 stylesheet and shows the result, a page
  that says what a feed is and how to subscribe, then the entries. Feed readers ignore it.
  Everything shown comes from the feed itself; the page loads nothing but the entries'
  thumbnails (no script, no web font, no other stylesheet). Of the feed's URLs, only http(s)
  ones become links or images.

  `feedsvc serve` does not leave this to the browser: it answers a browser with the same page
  made on the server (feeds/views.py, templates/feed.html), and a build writes that page
  beside each feed. This stylesheet serves where a static server sends browsers the feed
  itself and the browser still runs XSLT. tests/test_views.py holds the two pages alike.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:media="http://search.yahoo.com/mrss/"
    xmlns:fh="http://purl.org/syndication/history/1.0"
    exclude-result-prefixes="atom dc media fh">

  <!-- The HTML output method writes the <meta> that declares UTF-8 itself. -->
  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <xsl:variable name="is-rss" select="boolean(/rss)"/>
  <xsl:variable name="title" select="normalize-space(/rss/channel/title | /atom:feed/atom:title)"/>
  <xsl:variable name="description" select="normalize-space(/rss/channel/description | /atom:feed/atom:subtitle)"/>
  <xsl:variable name="self" select="string((/rss/channel/atom:link | /atom:feed/atom:link)[@rel = 'self']/@href)"/>
  <xsl:variable name="site" select="string(/rss/channel/link | /atom:feed/atom:link[@rel = 'alternate']/@href)"/>
  <xsl:variable name="language" select="string(/rss/channel/language | /atom:feed/@xml:lang)"/>
  <xsl:variable name="entries" select="/rss/channel/item | /atom:feed/atom:entry"/>
  <!-- RFC 5005: an archive page (fh:archive) of the feed, its current document and the pages around it. -->
  <xsl:variable name="links" select="/rss/channel/atom:link | /atom:feed/atom:link"/>
  <xsl:variable name="archived" select="boolean(/rss/channel/fh:archive | /atom:feed/fh:archive)"/>
  <xsl:variable name="current" select="string($links[@rel = 'current']/@href)"/>
  <xsl:variable name="older" select="string($links[@rel = 'prev-archive']/@href)"/>
  <xsl:variable name="newer" select="string($links[@rel = 'next-archive']/@href)"/>
  <xsl:variable name="subscribe">
    <xsl:choose>
      <xsl:when test="$archived and $current != ''"><xsl:value-of select="$current"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="$self"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <!-- The feed's file name (all.rss), and without its extension (all): the other formats sit next to it. -->
  <xsl:variable name="file">
    <xsl:call-template name="after-last-slash">
      <xsl:with-param name="text" select="$self"/>
    </xsl:call-template>
  </xsl:variable>
  <!-- The service's root, relative to this document: one ../ per folder below it (feeds/, feeds/tags/, …/archive/). -->
  <xsl:variable name="below-feeds" select="substring-after($self, '/feeds/')"/>
  <xsl:variable name="home">
    <xsl:choose>
      <xsl:when test="$below-feeds != ''">
        <xsl:value-of select="substring('../../../../../../../../', 1,
            3 * (1 + string-length($below-feeds) - string-length(translate($below-feeds, '/', ''))))"/>
      </xsl:when>
      <xsl:when test="$archived">../../../</xsl:when>
      <xsl:otherwise>../</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="stem">
    <xsl:choose>
      <xsl:when test="$is-rss and substring($file, string-length($file) - 3) = '.rss'">
        <xsl:value-of select="substring($file, 1, string-length($file) - 4)"/>
      </xsl:when>
      <xsl:when test="not($is-rss) and substring($file, string-length($file) - 4) = '.atom'">
        <xsl:value-of select="substring($file, 1, string-length($file) - 5)"/>
      </xsl:when>
    </xsl:choose>
  </xsl:variable>

  <xsl:template match="/">
    <html>
      <xsl:if test="$language != ''">
        <xsl:attribute name="lang"><xsl:value-of select="$language"/></xsl:attribute>
      </xsl:if>
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$title"/> – feed</title>
        <style>
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0 auto;max-width:46rem;padding:1rem;color:#222;background:#fff;overflow-wrap:break-word}
a{color:#0b57d0}
h1{font-size:1.5rem;line-height:1.3;margin:.25rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.kind{display:inline-block;margin:0;padding:.1rem .5rem;border-radius:.3rem;background:#c60;color:#fff;font-size:.8rem;font-weight:600}
.meta{color:#666;font-size:.9rem;margin:.25rem 0}
.about{margin:1rem 0;padding:.25rem .9rem;border:1px solid #e8c9a8;border-radius:.5rem;background:#fff8f0}
.about h2{margin:.75rem 0 .25rem}
.url{display:block;margin:.5rem 0;padding:.6rem .75rem;border:1px solid #ccc;border-radius:.3rem;background:#fff;font:.85rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all;user-select:all}
.formats a,.formats strong{display:inline-block;margin:.2rem .4rem .2rem 0;padding:.4rem .7rem;border:1px solid #c60;border-radius:.3rem;color:#c60;text-decoration:none}
.formats strong{background:#c60;color:#fff}
ol{list-style:none;padding:0;margin:0}
li{border-top:1px solid #ddd;padding:.9rem 0;display:flow-root}
li h3{font-size:1.05rem;line-height:1.4;margin:0}
li h3 a{color:#222;text-decoration:none}
li h3 a:hover{text-decoration:underline}
.thumb{position:relative;float:right;width:6rem;height:4.5rem;margin:0 0 .4rem .75rem;border-radius:.3rem;object-fit:cover;background:#eee}
.thumb::after{content:"";position:absolute;inset:0;border-radius:.3rem;background:#eee}
.summary{margin:.35rem 0 0}
footer{border-top:1px solid #ddd;margin-top:1rem;padding-top:.75rem}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}a{color:#8ab4f8}.meta{color:#aaa}.about{background:#221a10;border-color:#5a4020}.url{background:#000;border-color:#444}li,footer{border-color:#333}li h3 a{color:#ddd}.thumb,.thumb::after{background:#333}}
        </style>
      </head>
      <body>
        <header>
          <p class="kind">
            <xsl:choose>
              <xsl:when test="$is-rss">RSS 2.0 feed</xsl:when>
              <xsl:otherwise>Atom 1.0 feed</xsl:otherwise>
            </xsl:choose>
            <xsl:if test="$archived"> · archive page</xsl:if>
          </p>
          <h1><xsl:value-of select="$title"/></h1>
          <xsl:if test="$description != '' and $description != $title">
            <p class="meta"><xsl:value-of select="$description"/></p>
          </xsl:if>
        </header>
        <section class="about">
          <h2>This is a feed</h2>
          <xsl:choose>
            <xsl:when test="$archived">
              <p>This page holds older articles of the feed. To subscribe, copy the feed's URL into your feed reader: new articles then come to you as they are published.</p>
            </xsl:when>
            <xsl:otherwise>
              <p>Copy its URL into your feed reader to subscribe: new articles then come to you as they are published.</p>
            </xsl:otherwise>
          </xsl:choose>
          <xsl:if test="$subscribe != ''">
            <code class="url"><xsl:value-of select="$subscribe"/></code>
          </xsl:if>
          <xsl:if test="$stem != ''">
            <p class="formats">
              <xsl:call-template name="format">
                <xsl:with-param name="extension" select="'rss'"/>
                <xsl:with-param name="name" select="'RSS 2.0'"/>
                <xsl:with-param name="current" select="$is-rss"/>
              </xsl:call-template>
              <xsl:call-template name="format">
                <xsl:with-param name="extension" select="'atom'"/>
                <xsl:with-param name="name" select="'Atom 1.0'"/>
                <xsl:with-param name="current" select="not($is-rss)"/>
              </xsl:call-template>
              <xsl:call-template name="format">
                <xsl:with-param name="extension" select="'json'"/>
                <xsl:with-param name="name" select="'JSON Feed 1.1'"/>
                <xsl:with-param name="current" select="false()"/>
              </xsl:call-template>
            </p>
          </xsl:if>
          <p>
            <a href="{$home}">All feeds</a>
            <xsl:if test="starts-with($site, 'https://') or starts-with($site, 'http://')">
              <xsl:text> · </xsl:text>
              <a href="{$site}">Visit the site</a>
            </xsl:if>
          </p>
        </section>
        <xsl:if test="$older != '' or $newer != '' or ($archived and $current != '')">
          <nav class="formats history">
            <xsl:if test="$newer != '' and (starts-with($newer, 'https://') or starts-with($newer, 'http://'))">
              <a href="{$newer}" rel="next">Newer articles</a>
            </xsl:if>
            <xsl:if test="$older != '' and (starts-with($older, 'https://') or starts-with($older, 'http://'))">
              <a href="{$older}" rel="prev">Older articles</a>
            </xsl:if>
            <xsl:if test="$archived and (starts-with($current, 'https://') or starts-with($current, 'http://'))">
              <a href="{$current}">The feed (newest articles)</a>
            </xsl:if>
          </nav>
        </xsl:if>
        <h2>
          <xsl:choose>
            <xsl:when test="$archived">Articles on this page</xsl:when>
            <xsl:otherwise>Latest articles</xsl:otherwise>
          </xsl:choose>
          <xsl:if test="$entries">
            <xsl:value-of select="concat(' (', count($entries), ')')"/>
          </xsl:if>
        </h2>
        <xsl:choose>
          <xsl:when test="$entries">
            <ol>
              <xsl:apply-templates select="$entries"/>
            </ol>
          </xsl:when>
          <xsl:otherwise>
            <p class="meta">No articles yet.</p>
          </xsl:otherwise>
        </xsl:choose>
        <footer class="meta">
          <xsl:text>Feed readers read this feed as it is: this page is only how a browser shows it.</xsl:text>
        </footer>
      </body>
    </html>
  </xsl:template>

  <!-- One entry: RSS <item> or Atom <entry>. -->
  <xsl:template match="item | atom:entry">
    <xsl:variable name="link" select="string(link | atom:link[not(@rel) or @rel = 'alternate']/@href)"/>
    <xsl:variable name="image"
        select="string((media:thumbnail/@url | media:content[@medium = 'image']/@url | enclosure[starts-with(@type, 'image/')]/@url)[1])"/>
    <xsl:variable name="date">
      <xsl:choose>
        <xsl:when test="pubDate"><xsl:value-of select="pubDate"/></xsl:when>
        <xsl:when test="atom:published"><xsl:value-of select="atom:published"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="atom:updated"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <!-- An Atom entry without an author has the feed's. -->
    <xsl:variable name="author">
      <xsl:choose>
        <xsl:when test="dc:creator | author | atom:author">
          <xsl:value-of select="normalize-space((dc:creator | author | atom:author/atom:name)[1])"/>
        </xsl:when>
        <xsl:otherwise>
          <xsl:value-of select="normalize-space(../atom:author/atom:name)"/>
        </xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="summary" select="normalize-space(description | atom:summary)"/>
    <li>
      <article>
        <xsl:if test="starts-with($image, 'https://') or starts-with($image, 'http://')">
          <img class="thumb" src="{$image}" alt="" loading="lazy" width="96" height="72"/>
        </xsl:if>
        <h3>
          <xsl:choose>
            <xsl:when test="starts-with($link, 'https://') or starts-with($link, 'http://')">
              <a href="{$link}"><xsl:value-of select="normalize-space(title | atom:title)"/></a>
            </xsl:when>
            <xsl:otherwise>
              <xsl:value-of select="normalize-space(title | atom:title)"/>
            </xsl:otherwise>
          </xsl:choose>
        </h3>
        <p class="meta">
          <xsl:if test="$date != ''">
            <time>
              <xsl:call-template name="date">
                <xsl:with-param name="value" select="$date"/>
              </xsl:call-template>
            </time>
          </xsl:if>
          <xsl:if test="$date != '' and $author != ''">
            <xsl:text> · </xsl:text>
          </xsl:if>
          <xsl:value-of select="$author"/>
        </p>
        <xsl:if test="$summary != ''">
          <p class="summary"><xsl:value-of select="$summary"/></p>
        </xsl:if>
      </article>
    </li>
  </xsl:template>

  <!-- A link to the feed in another format, or the name of this one. -->
  <xsl:template name="format">
    <xsl:param name="extension"/>
    <xsl:param name="name"/>
    <xsl:param name="current"/>
    <xsl:choose>
      <xsl:when test="$current">
        <strong title="this page"><xsl:value-of select="$name"/></strong>
      </xsl:when>
      <xsl:otherwise>
        <a href="{concat($stem, '.', $extension)}"><xsl:value-of select="$name"/></a>
      </xsl:otherwise>
    </xsl:choose>
    <xsl:text> </xsl:text>
  </xsl:template>

  <!-- "Fri, 20 Nov 2026 16:00:00 +0000" (RSS) or "2026-11-20T16:00:00+00:00" (Atom) as "2026-11-20 16:00 UTC". -->
  <xsl:template name="date">
    <xsl:param name="value"/>
    <xsl:variable name="months" select="'JanFebMarAprMayJunJulAugSepOctNovDec'"/>
    <xsl:choose>
      <xsl:when test="substring($value, 4, 2) = ', ' and contains($months, substring($value, 9, 3))">
        <xsl:value-of select="substring($value, 13, 4)"/>
        <xsl:text>-</xsl:text>
        <xsl:value-of
            select="format-number(string-length(substring-before($months, substring($value, 9, 3))) div 3 + 1, '00')"/>
        <xsl:text>-</xsl:text>
        <xsl:value-of select="substring($value, 6, 2)"/>
        <xsl:text> </xsl:text>
        <xsl:value-of select="substring($value, 18, 5)"/>
        <xsl:call-template name="zone">
          <xsl:with-param name="offset" select="substring($value, 27)"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:when test="substring($value, 5, 1) = '-' and substring($value, 11, 1) = 'T'">
        <xsl:value-of select="concat(substring($value, 1, 10), ' ', substring($value, 12, 5))"/>
        <xsl:variable name="rest" select="substring($value, 20)"/>
        <xsl:call-template name="zone">
          <xsl:with-param name="offset">
            <xsl:choose>
              <xsl:when test="contains($rest, '+')">
                <xsl:value-of select="concat('+', substring-after($rest, '+'))"/>
              </xsl:when>
              <xsl:when test="contains($rest, '-')">
                <xsl:value-of select="concat('-', substring-after($rest, '-'))"/>
              </xsl:when>
              <xsl:otherwise>Z</xsl:otherwise>
            </xsl:choose>
          </xsl:with-param>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:value-of select="$value"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- "+0000", "+00:00" or "Z" as " UTC"; "+0800" or "+08:00" as " +08:00". -->
  <xsl:template name="zone">
    <xsl:param name="offset"/>
    <xsl:variable name="digits" select="translate($offset, ':', '')"/>
    <xsl:choose>
      <xsl:when test="$digits = 'Z' or $digits = 'GMT' or $digits = 'UT' or $digits = '+0000' or $digits = '-0000'">
        <xsl:text> UTC</xsl:text>
      </xsl:when>
      <xsl:when test="string-length($digits) = 5">
        <xsl:value-of select="concat(' ', substring($digits, 1, 3), ':', substring($digits, 4, 2))"/>
      </xsl:when>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="after-last-slash">
    <xsl:param name="text"/>
    <xsl:choose>
      <xsl:when test="contains($text, '/')">
        <xsl:call-template name="after-last-slash">
          <xsl:with-param name="text" select="substring-after($text, '/')"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:value-of select="$text"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
