@destructive
Feature: Updating an image
  Alice changes the title of an image, replaces its file, or both. The image keeps its ID.

  Background:
    Given Alice has uploaded a PNG file "original.png" with the title "Original"

  @smoke
  Scenario: Updating only the title keeps the file
    When Alice updates the image with the title "Renamed"

    Then the update succeeds
    And Alice's gallery lists the image with the title "Renamed"
    And the image's url still serves the bytes of "original.png"

  Scenario: Updating only the file replaces what the image serves
    Given Alice has a JPEG file "replacement.jpg"

    When Alice updates the image with the file "replacement.jpg"

    Then the update succeeds
    And Alice's gallery lists the image as "replacement.jpg" with the title "Original"
    And the image's url serves the bytes of "replacement.jpg"

  Scenario: Updating title and file together changes both
    Given Alice has a JPEG file "replacement.jpg"

    When Alice updates the image with the file "replacement.jpg" and the title "Both changed"

    Then the update succeeds
    And Alice's gallery lists the image as "replacement.jpg" with the title "Both changed"

  @whole_gallery
  Scenario: An update with a file that is not an image is refused and changes nothing
    Given Alice has a GIF file "animation.gif"

    When Alice updates the image with the file "animation.gif" and the title "Should not stick"

    Then the request is refused as the wrong type
    And Alice's gallery is unchanged

  Scenario: An update of an image that does not exist is refused
    When Alice updates an image that does not exist with the title "Ghost"

    Then the request is refused as not found

  Scenario: An update with a malformed image ID gives a validation error
    When Alice updates the image "not-a-uuid" with the title "Malformed"

    Then the request is refused with a validation error
