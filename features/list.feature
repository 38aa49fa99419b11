@whole_gallery
Feature: Listing the gallery
  Alice sees her own images, in the order she chose, and nobody else's.

  @smoke
  Scenario: An empty gallery is listed as an empty list
    Given Alice's gallery is empty

    When Alice lists her gallery

    Then the list is empty

  @destructive
  Scenario: The gallery is listed in the order Alice chose
    Given Alice has uploaded 3 PNG files
    And Alice has put her gallery in reverse order

    When Alice lists her gallery

    Then the images are listed in the order Alice chose

  @destructive
  Scenario: A new upload lands at the start or the end of the gallery, as the contract allows
    Given Alice has uploaded 2 PNG files
    And Alice has a PNG file "latest.png"

    When Alice uploads "latest.png" without a title

    Then the upload succeeds with a FileBase
    And the new image is listed where the contract says new uploads land
