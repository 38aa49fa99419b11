@destructive
Feature: Uploading an image
  Alice adds a picture to her gallery. Only real PNG and JPEG files of at most 20 MB are kept,
  and what comes back describes exactly the file she sent.

  Rule: A stored image describes the file that was sent

    @smoke @critical
    Scenario: A PNG uploaded with a title keeps its title
      Given Alice has a PNG file "sunset.png"

      When Alice uploads "sunset.png" with the title "Sunset over the bay"

      Then the upload succeeds with a FileBase
      And the image has the title "Sunset over the bay"
      And Alice's gallery lists the image

    @smoke
    Scenario: A JPEG uploaded without a title is stored untitled
      Given Alice has a JPEG file "harbour.jpg"

      When Alice uploads "harbour.jpg" without a title

      Then the upload succeeds with a FileBase
      And the image is untitled as the contract allows
      And Alice's gallery lists the image

    Scenario: An uploaded image is identified by a UUID
      Given Alice has a PNG file "passport.png"

      When Alice uploads "passport.png" without a title

      Then the image's id is a UUID

    Scenario Outline: A <type> upload reports its real size and content type
      Given Alice has a <type> file "<name>"

      When Alice uploads "<name>" without a title

      Then the upload succeeds with a FileBase
      And the image's filesize is the size of "<name>"
      And the image's contentType is that of a <type>

      Examples: Accepted types
        | type | name        |
        | PNG  | flowers.png |
        | JPEG | street.jpg  |

    Scenario: The image's url serves exactly the bytes that were uploaded
      Given Alice has uploaded a PNG file "sunset.png"

      When Alice downloads the image from its url

      Then the download is byte-identical to "sunset.png"

    Scenario: The image's thumb is an image
      Given Alice has uploaded a JPEG file "harbour.jpg"

      When Alice downloads the image's thumb

      Then the download is a PNG or JPEG image

    Scenario: A file name with quotes and accented letters comes back unchanged
      Given Alice has a PNG file named:
        """
        Grandma's "best" café – Ωmega ü.png
        """

      When Alice uploads that file without a title

      Then the upload succeeds with a FileBase
      And the image's originFilename is exactly that name

    Scenario: A title with letters from many scripts comes back unchanged
      Given Alice has a PNG file "zurich.png"

      When Alice uploads "zurich.png" with the title "Zürich – 東京 – Ωmega ✓"

      Then the upload succeeds with a FileBase
      And the image has the title "Zürich – 東京 – Ωmega ✓"

  Rule: A file may be at most 20 MB, the limit itself included

    @slow
    Scenario Outline: A <type> file of exactly the size limit is accepted
      Given Alice has a <type> file of exactly the size limit

      When Alice uploads that file without a title

      Then the upload succeeds with a FileBase
      And the image's filesize is the size of that file

      Examples: Accepted types
        | type |
        | PNG  |
        | JPEG |

    @slow @whole_gallery
    Scenario Outline: A <type> file one byte over the size limit is refused
      Given Alice has a <type> file one byte over the size limit

      When Alice uploads that file without a title

      Then the request is refused as too large
      And Alice's gallery is unchanged

      Examples: Accepted types
        | type |
        | PNG  |
        | JPEG |

    @whole_gallery
    Scenario: An empty file is refused
      Given Alice has an empty file "nothing.png"

      When Alice uploads that file without a title

      Then the request is refused as an empty file
      And Alice's gallery is unchanged

  Rule: Only real PNG and JPEG files are accepted, judged by what their bytes are

    @whole_gallery
    Scenario Outline: A <kind> file is refused
      Given Alice has a <kind> file

      When Alice uploads that file without a title

      Then the request is refused as the wrong type
      And Alice's gallery is unchanged

      Examples: Other image formats
        | kind |
        | GIF  |
        | WebP |
        | BMP  |
        | SVG  |

      Examples: Documents
        | kind |
        | PDF  |
        | text |

      Examples: Broken images
        | kind                           |
        | truncated PNG                  |
        | truncated JPEG                 |
        | PNG signature followed by junk |

    @whole_gallery @critical
    Scenario: GIF bytes in a file named like a PNG are refused
      Given Alice has a GIF file named "holiday.png" declared as "image/gif"

      When Alice uploads that file without a title

      Then the request is refused as the wrong type
      And Alice's gallery is unchanged

    @whole_gallery @critical
    Scenario: GIF bytes declared as a PNG part are refused
      Given Alice has a GIF file named "holiday.gif" declared as "image/png"

      When Alice uploads that file without a title

      Then the request is refused as the wrong type
      And Alice's gallery is unchanged

    Scenario: PNG bytes in a file named like a GIF are judged as the contract allows
      Given Alice has a PNG file named "poster.gif" declared as "image/gif"

      When Alice uploads that file without a title

      Then the upload is accepted as a PNG or refused as the wrong type, as the contract allows

  Rule: An upload must carry a file

    @whole_gallery
    Scenario: An upload without a file gives a validation error
      When Alice uploads no file with the title "Nothing attached"

      Then the request is refused with a validation error
      And Alice's gallery is unchanged
