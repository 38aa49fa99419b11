@destructive
Feature: Uploading several images at once
  Alice adds several pictures in one request. Each file follows the rules of a single upload.

  @smoke
  Scenario: Two valid files uploaded together are both stored
    Given Alice has a PNG file "one.png"
    And Alice has a JPEG file "two.jpg"

    When Alice uploads "one.png" and "two.jpg" together

    Then the batch succeeds with one FileBase for each file, in the order sent
    And Alice's gallery lists every image of the batch

  @whole_gallery
  Scenario Outline: A batch holding one bad file <where> stores no bad file
    Given Alice has a PNG file "good.png"
    And Alice has a GIF file "bad.gif"

    When Alice uploads "<first>" and "<second>" together

    Then the batch is refused whole or keeps exactly the good files, as the contract allows

    Examples: Positions of the bad file
      | where | first    | second   |
      | last  | good.png | bad.gif  |
      | first | bad.gif  | good.png |

  @whole_gallery
  Scenario: A refused batch stores none of its files
    Given Alice has a PNG file "good.png"
    And Alice has a GIF file "bad.gif"

    When Alice uploads "good.png" and "bad.gif" together

    Then a refused batch leaves Alice's gallery unchanged

  @whole_gallery
  Scenario: A batch with no files gives a validation error
    When Alice uploads a batch with no files

    Then the request is refused with a validation error
    And Alice's gallery is unchanged
