@destructive @whole_gallery
Feature: Reordering the gallery
  Alice arranges her gallery by sending a new order of image IDs.

  Background:
    Given Alice has uploaded 3 PNG files

  Rule: A new order must name every image of the gallery exactly once

    @smoke @critical
    Scenario: A complete order is accepted and echoed
      When Alice orders her gallery in reverse

      Then the answer echoes the new order as an OrderIn

    @critical
    Scenario: A complete order is kept
      When Alice orders her gallery in reverse

      Then Alice's gallery is listed in the new order

    Scenario Outline: An order that <problem> is refused
      When Alice orders her gallery with a list that <problem>

      Then the request is refused as a bad order
      And Alice's gallery order is unchanged

      Examples: Incomplete or wrong lists
        | problem                                  |
        | misses one image                         |
        | names one image twice and misses another |
        | names every image and one of them twice  |
        | names an image that does not exist       |
        | is empty                                 |

    Scenario: An order holding a malformed ID gives a validation error
      When Alice orders her gallery with a list that holds "not-a-uuid" in place of one ID

      Then the request is refused with a validation error
      And Alice's gallery order is unchanged
